//! `/account`: the signed-in person's own account: their password (set or
//! not), their identities at OpenID providers, each of which they may
//! unlink, never the last way in, and the apps they allowed (consents),
//! each of which they may withdraw.

use crate::db::identities::IdentityRow;
use crate::domain::event::Origin;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::hosted::SignInForms;
use crate::web::sign_in::{self, Browser, Credentials, FormError, Onward};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// One identity as the page lists it.
pub struct IdentityLine {
    pub id: i64,
    /// The provider's label (or the issuer, for one met only as a token's).
    pub provider: String,
    pub subject: String,
    pub email: String,
}

pub enum AccountView {
    SignedOut(SignInForms),
    SignedIn {
        email: String,
        has_password: bool,
        identities: Vec<IdentityLine>,
        /// The configured providers, each connectable: `(id, name)`.
        providers: Vec<(String, String)>,
        /// Third-party apps the person allowed.
        consents: Vec<crate::services::oidc::Consent>,
        /// The second factor (docs/second-factor.md).
        second_factor: crate::services::second_factor::Status,
        /// The account's passkeys (docs/passkeys.md).
        passkeys: Vec<crate::services::accounts::PasskeyView>,
        /// Whether passkeys can be added here (`server.public_url` has a
        /// domain name).
        passkeys_offered: bool,
        /// Organizations whose verified `suggest` domain is this address's
        /// (docs/domains.md).
        suggestions: Vec<crate::services::domains::Suggestion>,
    },
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    view: AccountView,
    csrf_token: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

fn line(state: &AppState, identity: IdentityRow) -> IdentityLine {
    let providers = state.accounts.providers();
    let provider = identity
        .provider
        .as_deref()
        .and_then(|id| providers.name_of(id))
        .or_else(|| {
            providers
                .id_for_issuer(&identity.issuer)
                .and_then(|id| providers.name_of(id))
        })
        .map_or_else(|| identity.issuer.clone(), str::to_owned);
    IdentityLine {
        id: identity.id,
        provider,
        subject: identity.subject,
        email: identity.email.unwrap_or_default(),
    }
}

pub(super) async fn page(
    req: &HttpRequest,
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    error: Option<String>,
) -> Result<FormPage, HtmlError> {
    let csrf_token = crate::web::csrf::csrf_token(req);
    let view = match browser.signed_in(state).await {
        None => AccountView::SignedOut(SignInForms {
            action: "/account".into(),
            hidden: Vec::new(),
            csrf_token: csrf_token.clone(),
            email: String::new(),
            error: error.clone().or_else(|| sign_in::declined_notice(req)),
            reset_href: crate::web::hosted::reset_href(None),
            providers: sign_in::provider_buttons(state, "/account"),
            return_to: "/account".into(),
            passkeys: state.accounts.passkeys_offered(),
        }),
        Some(person) => {
            let user_id = person.user_id;
            let (user, identities, consents, second_factor, passkeys, suggestions) = state
                .db
                .read(move |conn| {
                    let user = crate::db::users::get(conn, user_id)?
                        .ok_or(ServiceError::NotFound("account"))?;
                    Ok::<_, ServiceError>((
                        user,
                        services::identities::of_user(conn, user_id)?,
                        services::oidc::consents(conn, user_id)?,
                        services::second_factor::status(conn, user_id)?,
                        services::accounts::passkeys::list(conn, user_id)?,
                        services::domains::suggestions(conn, user_id)?,
                    ))
                })
                .await
                .map_err(|e| PageError::failed(&e))?;
            AccountView::SignedIn {
                email: user.email,
                has_password: user.has_password,
                identities: identities.into_iter().map(|i| line(state, i)).collect(),
                providers: state
                    .accounts
                    .providers()
                    .links()
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect(),
                consents,
                second_factor,
                passkeys,
                passkeys_offered: state.accounts.passkeys_offered(),
                suggestions,
            }
        }
    };
    let query = req.query_string();
    let notice = if query.contains("unlinked=1") {
        Some("The identity was unlinked: it no longer signs you in.")
    } else if query.contains("connected=1") {
        Some("The identity is linked: it signs you in to this account.")
    } else if query.contains("consent_revoked=1") {
        Some("The app's access is withdrawn: it asks again before it gets your data.")
    } else if query.contains("factor_removed=1") {
        Some("Your authenticator app and recovery codes were removed.")
    } else if query.contains("passkey_added=1") {
        Some("The passkey is added: it signs you in to this account.")
    } else if query.contains("passkey_removed=1") {
        Some("The passkey was removed: it no longer signs you in.")
    } else {
        None
    };
    let page = AccountPage {
        view,
        csrf_token: csrf_token.clone(),
        error,
        notice,
    };
    // The connect forms' answers redirect to the providers.
    let targets: Vec<String> = state
        .accounts
        .providers()
        .authorization_urls()
        .iter()
        .filter_map(|url| crate::web::render::origin_of(url))
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    Ok(FormPage::new(
        status,
        &page,
        &csrf_token,
        crate::web::render::secure(state),
    )
    .form_targets(&targets)
    .scripts(sign_in::page_scripts(state)))
}

/// The person this browser is signed in as, for the page's forms.
async fn signed_in(
    browser: &Browser,
    state: &AppState,
) -> Result<crate::services::sessions::SessionUser, PageError> {
    browser.signed_in(state).await.ok_or_else(|| {
        PageError::new(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "Your session has ended. Sign in again on your account page.",
        )
    })
}

/// `GET /account`.
pub async fn show(
    req: HttpRequest,
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    Ok(page(&req, &state, &browser, StatusCode::OK, None)
        .await?
        .response())
}

/// `POST /account`: the sign-in form (no sign-up here: accounts come from
/// invitations, join links and providers).
pub async fn sign_in(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<Credentials>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.signing_in();
    let context = browser.form_context(None, None);
    let outcome = sign_in::submit(&state, &form, &context).await;
    match outcome {
        Ok(outcome) => {
            sign_in::finish_outcome(&state, outcome, Onward::Page("/account".into())).await
        }
        Err(error) => {
            let FormError {
                status, message, ..
            } = error;
            Ok(page(&req, &state, &browser, status, Some(message))
                .await?
                .response())
        }
    }
}

/// `POST /account/connect/{provider}`: links an identity at that provider
/// to the signed-in account, once the person signed in there. A form (with
/// its CSRF token), not a link: another site must not be able to start it.
pub async fn connect(
    path: web::Path<String>,
    browser: Browser,
    _: GenuineForm<serde::de::IgnoredAny>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let person = signed_in(&browser, &state).await?;
    let id = path.into_inner();
    let back = crate::services::accounts::ReturnTo::parse("/account")
        .ok_or_else(|| PageError::internal("/account is a return path"))?;
    let begun = state
        .accounts
        .begin_federated(&id, &back, &browser.address(), Some(person.user_id))
        .await
        .map_err(|e| crate::web::hosted::oidc::provider_failure(&state, &id, &e))?;
    let mut response = crate::web::render::Redirect::to(begun.redirect)
        .without_referrer()
        .response();
    crate::web::render::add_cookie(
        &mut response,
        &crate::web::hosted::oidc::login_cookie(&begun.browser, &state),
    );
    Ok(response)
}

/// `POST /account/identities/{id}/unlink`.
pub async fn unlink(
    req: HttpRequest,
    path: web::Path<i64>,
    browser: Browser,
    _: GenuineForm<serde::de::IgnoredAny>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let person = signed_in(&browser, &state).await?;
    let (user_id, id, now) = (person.user_id, path.into_inner(), state.clock.now());
    let origin = Origin::new(
        crate::domain::event::Actor::User { user_id },
        browser.request_id(),
    );
    let unlinked = state
        .db
        .write(move |tx| services::identities::unlink(tx, &origin, user_id, id, now))
        .await;
    match unlinked {
        Ok(_) => Ok(crate::web::render::see_other("/account?unlinked=1")),
        Err(ServiceError::NotFound(_)) => Err(PageError::new(
            StatusCode::NOT_FOUND,
            "No such identity",
            "Your account has no such identity linked.",
        )
        .into()),
        Err(ServiceError::Conflict { detail, .. }) => {
            Ok(
                page(&req, &state, &browser, StatusCode::CONFLICT, Some(detail))
                    .await?
                    .response(),
            )
        }
        Err(other) => Err(PageError::failed(&other).into()),
    }
}

/// `POST /account/consents/{client}/revoke`: withdraws the person's consent
/// to a third-party app, and the refresh tokens it held for them.
pub async fn revoke_consent(
    path: web::Path<i64>,
    browser: Browser,
    _: GenuineForm<serde::de::IgnoredAny>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let person = signed_in(&browser, &state).await?;
    let (user_id, client, now) = (person.user_id, path.into_inner(), state.clock.now());
    let revoked = state
        .db
        .write(move |tx| services::oidc::revoke_consent(tx, user_id, client, now))
        .await
        .map_err(|e| PageError::failed(&e))?;
    if revoked {
        Ok(crate::web::render::see_other("/account?consent_revoked=1"))
    } else {
        Err(PageError::new(
            StatusCode::NOT_FOUND,
            "No such app",
            "You have not allowed such an app.",
        )
        .into())
    }
}
