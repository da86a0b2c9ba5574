//! The pages behind emailed account links and the reset request:
//! `/verify/{token}`, `/reset` and `/reset/{token}`. A GET only shows the
//! page (mail scanners follow links); the link is used up by the POST.

use crate::domain::LinkPurpose as Purpose;
use crate::services::accounts::{Followed, LinkView, Resume, SignedIn};
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::hosted::EmailLinkPage;
use crate::web::hosted::ResetRequestPage;
use crate::web::hosted::authorize::{self, AuthorizeParams};
use crate::web::render::Link;
use crate::web::render::MessagePage;
use crate::web::sign_in::{self, FormError, LINK_COOKIE};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    password: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResetQuery {
    resume: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    email: Option<String>,
    resume: Option<String>,
}

/// An answer that is a page with its status (and Retry-After when it has one).
fn error_page(error: &FormError) -> HttpResponse {
    let heading = match error.status {
        StatusCode::NOT_FOUND => "Link not found",
        StatusCode::GONE => "This link can no longer be used",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::SERVICE_UNAVAILABLE => "Busy right now",
        _ => "Something went wrong",
    };
    let page = PageError::new(error.status, heading, error.message.clone());
    match error.retry_after {
        Some(wait) => page.with_retry_after(wait),
        None => page,
    }
    .response()
}

fn browser_cookie(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&crate::web::render::cookie_name(
        LINK_COOKIE,
        sign_in::secure(state),
    ))
    .map(|c| c.value().to_owned())
}

/// The origins a link page's form may lead to: the OAuth2 client it resumes.
fn resume_targets(resume: Option<&Resume>) -> Vec<String> {
    match resume {
        Some(Resume::Authorize(query)) => AuthorizeParams::from_query(query)
            .and_then(|params| {
                params
                    .redirect_uri()
                    .and_then(crate::web::render::origin_of)
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

fn link_page(
    req: &HttpRequest,
    state: &AppState,
    purpose: Purpose,
    token: &str,
    view: &LinkView,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    let csrf = crate::web::csrf::csrf_token(req);
    let (heading, intro, action, button) = match (purpose, view.choose_password) {
        (Purpose::Verify, false) => (
            "Confirm your email address",
            format!("Confirm that {} is your address to continue.", view.email),
            format!("/verify/{token}"),
            "Confirm my address",
        ),
        (Purpose::Verify, true) => (
            "Confirm your email address",
            format!(
                "Choose the password for the account of {}. If you signed up in another browser, \
                 this replaces the password typed there; if someone else signed up with your \
                 address, they lose the account to you.",
                view.email
            ),
            format!("/verify/{token}"),
            "Confirm and set the password",
        ),
        (Purpose::Reset, _) => (
            "Choose a new password",
            format!(
                "Choose a new password for {}. Every browser and app signed in to the account is signed out.",
                view.email
            ),
            format!("/reset/{token}"),
            "Set the password",
        ),
    };
    let page = EmailLinkPage {
        heading: heading.into(),
        intro,
        action,
        email: view.email.clone(),
        choose_password: view.choose_password,
        button,
        csrf_token: csrf.clone(),
        error,
    };
    let targets = resume_targets(view.resume.as_ref());
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    crate::web::csrf::form_page(status, &page, &targets, &csrf, sign_in::secure(state), None)
}

async fn show_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    purpose: Purpose,
    token: &str,
) -> HttpResponse {
    let browser = browser_cookie(&req, &state);
    match state
        .accounts
        .open_link(purpose, token, browser.as_deref())
        .await
    {
        Ok(view) => link_page(&req, &state, purpose, token, &view, StatusCode::OK, None),
        Err(error) => error_page(&FormError::from(error)),
    }
}

async fn follow_link(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    purpose: Purpose,
    token: &str,
) -> HttpResponse {
    let form: LinkForm = match crate::web::csrf::genuine_form(&req, &body) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let browser = browser_cookie(&req, &state);
    let followed = state
        .accounts
        .follow_link(purpose, token, browser.as_deref(), form.password.as_deref())
        .await;
    match followed {
        Ok(followed) => resume(&state, followed).await,
        Err(error) => {
            let error = FormError::from(error);
            if error.status != StatusCode::BAD_REQUEST {
                return error_page(&error);
            }
            // A password the rules refuse: the same form again, saying why.
            match state
                .accounts
                .open_link(purpose, token, browser.as_deref())
                .await
            {
                Ok(view) => link_page(
                    &req,
                    &state,
                    purpose,
                    token,
                    &view,
                    StatusCode::BAD_REQUEST,
                    Some(error.message),
                ),
                Err(other) => error_page(&FormError::from(other)),
            }
        }
    }
}

/// Signed in by the link: on to where the person was going. When the new
/// password revoked API keys, a page says how many first, with the way on.
async fn resume(state: &AppState, followed: Followed) -> HttpResponse {
    let person = followed.signed_in;
    let mut response = if followed.keys_revoked > 0 {
        keys_revoked(
            &person.email,
            followed.keys_revoked,
            followed.resume.as_ref(),
        )
    } else {
        onwards(state, &person, followed.resume).await
    };
    let _ = response.add_cookie(&sign_in::session_cookie(&person.session, state));
    let _ = response.add_cookie(&sign_in::removal(sign_in::link_cookie("", state)));
    response
}

fn keys_revoked(email: &str, count: usize, resume: Option<&Resume>) -> HttpResponse {
    let keys = if count == 1 {
        "1 API key".to_owned()
    } else {
        format!("{count} API keys")
    };
    let link = resume.map(|resume| match resume {
        Resume::Authorize(query) => Link {
            href: format!("/oauth/authorize?{query}"),
            label: "Continue to the app".into(),
        },
        Resume::Invitation(uuid) => Link {
            href: format!("/invite/{uuid}"),
            label: "Continue to the invitation".into(),
        },
        Resume::Console => Link {
            href: "/admin".into(),
            label: "Continue to the admin console".into(),
        },
    });
    crate::web::render::render(
        StatusCode::OK,
        &MessagePage {
            heading: "Your password is changed".into(),
            message: format!(
                "{email} is verified and you are signed in. {keys} created in the admin console \
                 with this account {} revoked, since whoever knew the old password could have \
                 made {}: create new ones in the console if you still need them.",
                if count == 1 { "was" } else { "were" },
                if count == 1 { "it" } else { "them" },
            ),
            link,
        },
        &[],
    )
}

async fn onwards(state: &AppState, person: &SignedIn, resume: Option<Resume>) -> HttpResponse {
    match resume {
        Some(Resume::Authorize(query)) => match AuthorizeParams::from_query(&query) {
            Some(params) => match authorize::validate(state, &params).await {
                Ok(authorization) => {
                    authorize::grant_code(state, authorization, person.user_id).await
                }
                Err(refusal) => *refusal,
            },
            None => done(&person.email),
        },
        Some(Resume::Invitation(uuid)) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/invite/{uuid}")))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Some(Resume::Console) => crate::web::render::see_other("/admin"),
        None => done(&person.email),
    }
}

fn done(email: &str) -> HttpResponse {
    crate::web::render::render(
        StatusCode::OK,
        &MessagePage::new(
            "You are all set",
            format!("{email} is verified and you are signed in. You can close this page."),
        ),
        &[],
    )
}

/// `GET /verify/{token}`
pub async fn show_verification(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    show_link(req, state, Purpose::Verify, &path).await
}

/// `POST /verify/{token}`
pub async fn verify(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    follow_link(req, body, state, Purpose::Verify, &path).await
}

/// `GET /reset/{token}`
pub async fn show_reset(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    show_link(req, state, Purpose::Reset, &path).await
}

/// `POST /reset/{token}`
pub async fn reset(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    follow_link(req, body, state, Purpose::Reset, &path).await
}

fn reset_request_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    email: &str,
    resume: Option<String>,
    error: Option<&FormError>,
) -> HttpResponse {
    let csrf = crate::web::csrf::csrf_token(req);
    let page = ResetRequestPage {
        email: email.to_owned(),
        resume: resume.filter(|r| Resume::decode(r).is_some()),
        csrf_token: csrf.clone(),
        error: error.map(|e| e.message.clone()),
    };
    crate::web::csrf::form_page(
        status,
        &page,
        &[],
        &csrf,
        sign_in::secure(state),
        error.and_then(|e| e.retry_after),
    )
}

/// `GET /reset`: "Forgot your password?"
pub async fn show_reset_request(
    req: HttpRequest,
    query: web::Query<ResetQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let query = query.into_inner();
    reset_request_page(&req, &state, StatusCode::OK, "", query.resume, None)
}

/// `POST /reset`: mails a reset link when the address has an account; the
/// answer is the same either way.
pub async fn request_reset(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: ResetForm = match crate::web::csrf::genuine_form(&req, &body) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let email = form.email.unwrap_or_default();
    let resume = form.resume.as_deref().and_then(Resume::decode);
    let requested = state
        .accounts
        .request_reset(&email, &sign_in::client_address(&req, &state), resume)
        .await;
    match requested {
        Ok(browser) => {
            let mut response = crate::web::render::render(
                StatusCode::OK,
                &crate::web::hosted::reset_requested(email.trim()),
                &[],
            );
            let _ = response.add_cookie(&sign_in::link_cookie(&browser, &state));
            response
        }
        Err(error) => {
            let error = FormError::from(error);
            reset_request_page(
                &req,
                &state,
                error.status,
                &email,
                form.resume,
                Some(&error),
            )
        }
    }
}
