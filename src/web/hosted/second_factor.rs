//! The account page's second factor (`/account/second-factor/…`): setting
//! up an authenticator app (its secret shown once, as a QR code and as
//! text, counted once a code from it is typed back), the ten recovery codes
//! (shown once), renewing them and removing the factor (each needing a
//! current code).

use crate::domain::event::{Actor, Origin};
use crate::services::second_factor::{self as factors, Enrolment, ShownCodes};
use crate::services::sessions::SessionUser;
use crate::services::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::sign_in::{Browser, FormError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub enum FactorView {
    /// The new secret, once: scan or type it, then type a code back.
    Enrol {
        qr_data_uri: String,
        secret_text: String,
        uri: String,
    },
    /// The confirmation form again (a wrong code), without the secret.
    ConfirmAgain,
    /// The recovery codes, once.
    Codes { codes: Vec<String>, first: bool },
}

#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct FactorPage {
    view: FactorView,
    csrf_token: String,
    error: Option<String>,
    /// Whether the person administers an organization (a link to the console).
    admin: bool,
}

/// The code form: `code` is a TOTP code or a recovery code.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    view: FactorView,
    error: Option<FormError>,
    admin: bool,
) -> HttpResponse {
    let retry_after = error.as_ref().and_then(|e| e.retry_after);
    let page = FactorPage {
        view,
        csrf_token: crate::web::csrf::csrf_token(req),
        error: error.map(|e| e.message),
        admin,
    };
    FormPage::new(
        status,
        &page,
        &page.csrf_token,
        crate::web::render::secure(state),
    )
    .retry_after(retry_after)
    .response()
}

/// The QR code of `uri`, as an SVG image in a `data:` URI (the pages' CSP
/// allows images from `data:`; no script draws it).
fn qr_data_uri(uri: &str) -> Result<String, PageError> {
    use base64::Engine;
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(PageError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

async fn signed_in(
    browser: &Browser,
    state: &AppState,
) -> Result<(String, SessionUser), PageError> {
    match (browser.session_token(), browser.signed_in(state).await) {
        (Some(token), Some(person)) => Ok((token, person)),
        _ => Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "Your session has ended. Sign in again on your account page.",
        )),
    }
}

fn origin(browser: &Browser, user_id: i64) -> Origin {
    Origin::new(Actor::User { user_id }, browser.request_id())
}

/// Whether the person administers an organization (the pages then lead
/// back to the console). Only a link depends on it: a failed read shows
/// the page without it rather than failing what was already done.
async fn administers(state: &AppState, user_id: i64) -> bool {
    state
        .db
        .read(move |conn| {
            Ok::<_, ServiceError>(
                crate::db::members::organizations_of(conn, user_id)?
                    .iter()
                    .any(|m| m.role == crate::domain::Role::Admin),
            )
        })
        .await
        .unwrap_or(false)
}

/// A refusal of the account page's forms: the account page again, saying why.
async fn account_again(
    req: &HttpRequest,
    state: &AppState,
    browser: &Browser,
    error: ServiceError,
) -> Result<HttpResponse, HtmlError> {
    let error = FormError::from(error);
    Ok(
        super::profile::page(req, state, browser, error.status, Some(error.message))
            .await?
            .retry_after(error.retry_after)
            .response(),
    )
}

/// `POST /account/second-factor/totp`: a new secret for an authenticator
/// app, shown on this answer only.
pub async fn begin(
    req: HttpRequest,
    browser: Browser,
    _: GenuineForm<serde::de::IgnoredAny>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let (_, person) = signed_in(&browser, &state).await?;
    let (user_id, now) = (person.user_id, state.clock.now());
    let begun: ServiceResult<Enrolment> = state
        .db
        .write(move |tx| factors::begin_totp(tx, user_id, now))
        .await;
    let enrolment = match begun {
        Ok(enrolment) => enrolment,
        Err(error) => return account_again(&req, &state, &browser, error).await,
    };
    let view = FactorView::Enrol {
        qr_data_uri: qr_data_uri(&enrolment.uri)?,
        secret_text: enrolment.secret_text,
        uri: enrolment.uri,
    };
    let admin = administers(&state, user_id).await;
    Ok(render(&req, &state, StatusCode::OK, view, None, admin))
}

/// `POST /account/second-factor/totp/confirm`: the code typed back from
/// the app. Right, the factor counts (and this session has proved it) and
/// the recovery codes are shown; wrong, the form again, saying so.
pub async fn confirm(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let (token, person) = signed_in(&browser, &state).await?;
    let (user_id, now) = (person.user_id, state.clock.now());
    let origin = origin(&browser, user_id);
    let confirmed = state
        .db
        .write(move |tx| factors::confirm_totp(tx, &origin, &token, user_id, &form.code, now))
        .await
        .and_then(factors::checked);
    let admin = administers(&state, user_id).await;
    match confirmed {
        Ok(ShownCodes(codes)) => {
            let view = FactorView::Codes { codes, first: true };
            Ok(render(&req, &state, StatusCode::OK, view, None, admin))
        }
        Err(ServiceError::Invalid {
            field: "factor", ..
        }) => Ok(crate::web::render::see_other("/account#second-factor")),
        Err(error) => {
            let error = FormError::from(error);
            let status = error.status;
            Ok(render(
                &req,
                &state,
                status,
                FactorView::ConfirmAgain,
                Some(error),
                admin,
            ))
        }
    }
}

/// `POST /account/second-factor/recovery-codes`: ten new recovery codes in
/// place of the old ones, once a current code proves the factor.
pub async fn renew_codes(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let (_, person) = signed_in(&browser, &state).await?;
    let (user_id, now) = (person.user_id, state.clock.now());
    let renewed = state
        .db
        .write(move |tx| factors::renew_recovery_codes(tx, user_id, &form.code, now))
        .await
        .and_then(factors::checked);
    match renewed {
        Ok(ShownCodes(codes)) => {
            let admin = administers(&state, user_id).await;
            let view = FactorView::Codes {
                codes,
                first: false,
            };
            Ok(render(&req, &state, StatusCode::OK, view, None, admin))
        }
        Err(error) => account_again(&req, &state, &browser, error).await,
    }
}

/// `POST /account/second-factor/remove`: removes the authenticator app
/// and the recovery codes, once a current code proves the factor.
pub async fn remove(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let (_, person) = signed_in(&browser, &state).await?;
    let (user_id, now) = (person.user_id, state.clock.now());
    let origin = origin(&browser, user_id);
    let removed = state
        .db
        .write(move |tx| factors::remove(tx, &origin, user_id, &form.code, now))
        .await
        .and_then(factors::checked);
    match removed {
        Ok(()) => Ok(crate::web::render::see_other("/account?factor_removed=1")),
        Err(error) => account_again(&req, &state, &browser, error).await,
    }
}
