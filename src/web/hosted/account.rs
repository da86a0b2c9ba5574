//! The pages behind emailed account links and the reset request:
//! `/verify/{token}`, `/reset` and `/reset/{token}`. A GET only shows the
//! page (mail scanners follow links); the link is used up by the POST.

use crate::domain::LinkPurpose as Purpose;
use crate::services::accounts::{Followed, LinkView, Resume, SignedIn};
use crate::state::AppState;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::hosted::EmailLinkPage;
use crate::web::hosted::ResetRequestPage;
use crate::web::hosted::authorize::{self, AuthorizeParams};
use crate::web::render::Link;
use crate::web::render::MessagePage;
use crate::web::sign_in::{self, FormError, LINK_COOKIE};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
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

/// A link that cannot be used (or a request refused) as its page says it.
fn link_failure(error: FormError) -> PageError {
    let heading = match error.status {
        StatusCode::NOT_FOUND => "Link not found",
        StatusCode::GONE => "This link can no longer be used",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::SERVICE_UNAVAILABLE => "Busy right now",
        _ => "Something went wrong",
    };
    let page = PageError::new(error.status, heading, error.message);
    match error.retry_after {
        Some(wait) => page.with_retry_after(wait),
        None => page,
    }
}

fn browser_cookie(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&crate::web::render::cookie_name(
        LINK_COOKIE,
        crate::web::render::secure(state),
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
) -> FormPage {
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
    FormPage::new(status, &page, &csrf, crate::web::render::secure(state)).form_targets(&targets)
}

/// The page behind an emailed link; the link stays unused.
async fn show_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    purpose: Purpose,
    token: &str,
) -> Result<HttpResponse, HtmlError> {
    let browser = browser_cookie(&req, &state);
    let view = state
        .accounts
        .open_link(purpose, token, browser.as_deref())
        .await
        .map_err(|error| link_failure(error.into()))?;
    Ok(link_page(&req, &state, purpose, token, &view, StatusCode::OK, None).response())
}

/// Uses an emailed link (with the password chosen on its page, if any).
async fn follow_link(
    req: HttpRequest,
    form: LinkForm,
    state: web::Data<AppState>,
    purpose: Purpose,
    token: &str,
) -> Result<HttpResponse, HtmlError> {
    let browser = browser_cookie(&req, &state);
    let followed = state
        .accounts
        .follow_link(purpose, token, browser.as_deref(), form.password.as_deref())
        .await;
    match followed.map_err(FormError::from) {
        Ok(followed) => Ok(resume(&state, followed).await),
        // A password the rules refuse: the same form again, saying why.
        Err(error) if error.status == StatusCode::BAD_REQUEST => {
            let view = state
                .accounts
                .open_link(purpose, token, browser.as_deref())
                .await
                .map_err(|other| link_failure(other.into()))?;
            let status = StatusCode::BAD_REQUEST;
            Err(link_page(
                &req,
                &state,
                purpose,
                token,
                &view,
                status,
                Some(error.message),
            )
            .into())
        }
        Err(error) => Err(link_failure(error).into()),
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
        // Where the person was going may refuse them now (an app's request
        // that no longer checks out): they are signed in all the same.
        onwards(state, &person, followed.resume)
            .await
            .unwrap_or_else(|refusal| refusal.error_response())
    };
    crate::web::render::add_cookie(
        &mut response,
        &sign_in::session_cookie(&person.session, state),
    );
    crate::web::render::add_cookie(
        &mut response,
        &sign_in::removal(sign_in::link_cookie("", state)),
    );
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

async fn onwards(
    state: &AppState,
    person: &SignedIn,
    resume: Option<Resume>,
) -> Result<HttpResponse, HtmlError> {
    match resume {
        Some(Resume::Authorize(query)) => match AuthorizeParams::from_query(&query) {
            Some(params) => {
                let authorization = authorize::validate(state, &params).await?;
                authorize::grant_code(state, authorization, &person.session).await
            }
            None => Ok(done(&person.email)),
        },
        Some(Resume::Invitation(uuid)) => {
            Ok(crate::web::render::see_other(&format!("/invite/{uuid}")))
        }
        Some(Resume::Console) => Ok(crate::web::render::see_other("/admin")),
        None => Ok(done(&person.email)),
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
) -> Result<HttpResponse, HtmlError> {
    show_link(req, state, Purpose::Verify, &path).await
}

/// `POST /verify/{token}`
pub async fn verify(
    req: HttpRequest,
    path: web::Path<String>,
    GenuineForm(form): GenuineForm<LinkForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    follow_link(req, form, state, Purpose::Verify, &path).await
}

/// `GET /reset/{token}`
pub async fn show_reset(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    show_link(req, state, Purpose::Reset, &path).await
}

/// `POST /reset/{token}`
pub async fn reset(
    req: HttpRequest,
    path: web::Path<String>,
    GenuineForm(form): GenuineForm<LinkForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    follow_link(req, form, state, Purpose::Reset, &path).await
}

/// "Forgot your password?", with the refusal of the last request when there was one.
fn reset_request_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    email: &str,
    resume: Option<String>,
    error: Option<&FormError>,
) -> FormPage {
    let csrf = crate::web::csrf::csrf_token(req);
    let page = ResetRequestPage {
        email: email.to_owned(),
        resume: resume.filter(|r| Resume::decode(r).is_some()),
        csrf_token: csrf.clone(),
        error: error.map(|e| e.message.clone()),
    };
    FormPage::new(status, &page, &csrf, crate::web::render::secure(state))
        .retry_after(error.and_then(|e| e.retry_after))
}

/// `GET /reset`: "Forgot your password?"
pub async fn show_reset_request(
    req: HttpRequest,
    query: web::Query<ResetQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let query = query.into_inner();
    reset_request_page(&req, &state, StatusCode::OK, "", query.resume, None).response()
}

/// `POST /reset`: mails a reset link when the address has an account; the
/// answer is the same either way.
pub async fn request_reset(
    req: HttpRequest,
    GenuineForm(form): GenuineForm<ResetForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let email = form.email.unwrap_or_default();
    let resume = form.resume.as_deref().and_then(Resume::decode);
    let address = sign_in::client_address(&req, &state);
    let browser = state
        .accounts
        .request_reset(&email, &address, resume)
        .await
        .map_err(|error| {
            let error = FormError::from(error);
            reset_request_page(
                &req,
                &state,
                error.status,
                &email,
                form.resume,
                Some(&error),
            )
        })?;
    let requested = crate::web::hosted::reset_requested(email.trim());
    let mut response = crate::web::render::render(StatusCode::OK, &requested, &[]);
    crate::web::render::add_cookie(&mut response, &sign_in::link_cookie(&browser, &state));
    Ok(response)
}
