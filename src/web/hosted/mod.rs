//! The hosted pages: what a person reaches from an email or from an app
//! that sends them to enlist. The invitation (`invite`), the join link
//! (`join`), the account links (`account`: verify, reset) and the OAuth2
//! sign-in page (`authorize`).

pub mod account;
pub mod authorize;
pub mod email_code;
pub mod invite;
pub mod join;
pub mod logout;
pub mod oidc;
pub mod passkeys;
pub mod profile;
pub mod second_factor;

/// The hosted pages' routes.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    use crate::http::routes::{self, Endpoint};
    routes::register(
        cfg,
        [
            Endpoint::at("/oauth/authorize")
                .get(authorize::show)
                .post(authorize::submit),
            Endpoint::at("/oauth/authorize/consent").post(authorize::consent),
            Endpoint::at("/oauth/logout")
                .get(logout::show)
                .post(logout::confirm),
            Endpoint::at("/invite/{uuid}")
                .get(invite::show)
                .post(invite::sign_in),
            Endpoint::at("/invite/{uuid}/respond").post(invite::respond),
            Endpoint::at("/invite/{uuid}/sign-out").post(invite::sign_out),
            Endpoint::at("/join/{token}")
                .get(join::show)
                .post(join::sign_in),
            Endpoint::at("/join/{token}/accept").post(join::accept),
            Endpoint::at("/verify/{token}")
                .get(account::show_verification)
                .post(account::verify),
            Endpoint::at("/reset")
                .get(account::show_reset_request)
                .post(account::request_reset),
            Endpoint::at("/account")
                .get(profile::show)
                .post(profile::sign_in),
            Endpoint::at("/account/identities/{id}/unlink").post(profile::unlink),
            Endpoint::at("/account/connect/{provider}").post(profile::connect),
            Endpoint::at("/account/consents/{client}/revoke").post(profile::revoke_consent),
            Endpoint::at("/account/second-factor/totp").post(second_factor::begin),
            Endpoint::at("/account/second-factor/totp/confirm").post(second_factor::confirm),
            Endpoint::at("/account/second-factor/recovery-codes").post(second_factor::renew_codes),
            Endpoint::at("/account/second-factor/remove").post(second_factor::remove),
            Endpoint::at("/account/passkeys").post(passkeys::register),
            Endpoint::at("/account/passkeys/challenge").post(passkeys::registration_challenge),
            Endpoint::at("/account/passkeys/confirm").post(passkeys::confirmation_challenge),
            Endpoint::at("/account/passkeys/remove").post(passkeys::remove),
            Endpoint::at("/auth/passkey/challenge").post(passkeys::sign_in_challenge),
            Endpoint::at("/auth/email-code/send").post(email_code::send),
            Endpoint::at("/auth/email-code")
                .get(email_code::show)
                .post(email_code::sign_in),
            Endpoint::at("/auth/oidc/{id}/start").get(oidc::start),
            Endpoint::at("/auth/oidc/{id}/callback").get(oidc::callback),
            Endpoint::at("/reset/{token}")
                .get(account::show_reset)
                .post(account::reset),
        ],
    );
}

use crate::web::error::PageError;
use crate::web::render::MessagePage;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

/// The answer once a person joined an organization (by invitation or join
/// link): on to `invitations.accept_redirect_url` when it is set, naming
/// the organization; otherwise the `welcome` page, leading on to the
/// console when it admits them there, or saying they are done.
pub fn joined(
    state: &crate::state::AppState,
    joined: crate::services::console::Joined,
    mut welcome: MessagePage,
) -> Result<HttpResponse, PageError> {
    let Some(target) = &state.settings.invitations.accept_redirect_url else {
        welcome.link = Some(if joined.opens_console {
            crate::web::render::Link {
                href: "/admin".into(),
                label: "Open the admin console".into(),
            }
        } else {
            welcome
                .message
                .push_str(" There is nothing more to do here: you can close this page.");
            crate::web::render::Link {
                href: "/account".into(),
                label: "Your account".into(),
            }
        });
        return Ok(crate::web::render::render(StatusCode::OK, &welcome, &[]));
    };
    let mut url = url::Url::parse(target).map_err(PageError::internal)?;
    url.query_pairs_mut()
        .append_pair("organization", &joined.organization.to_string());
    Ok(crate::web::render::see_other(url.as_str()))
}

/// The sign-in and sign-up forms, as every page that embeds them needs them.
pub struct SignInForms {
    /// Where the forms post.
    pub action: String,
    /// Hidden fields carried through the post (for example the OAuth2 request).
    pub hidden: Vec<(String, String)>,
    pub csrf_token: String,
    /// Pre-filled email (after a failed attempt, or the invited address).
    pub email: String,
    pub error: Option<String>,
    /// "Forgot your password?", carrying where the person was going.
    pub reset_href: String,
    /// The upstream identity providers, each a link there and back.
    pub providers: Vec<crate::web::sign_in::ProviderButton>,
    /// The page's own path and query, where "Email me a code" comes back to.
    pub return_to: String,
    /// Whether "Sign in with a passkey" is offered.
    pub passkeys: bool,
}

/// `/reset`, remembering where to go once the password is chosen.
pub fn reset_href(resume: Option<&crate::services::accounts::Resume>) -> String {
    match resume {
        Some(resume) => format!(
            "/reset?resume={}",
            percent_encoding::utf8_percent_encode(
                &resume.encode(),
                percent_encoding::NON_ALPHANUMERIC
            )
        ),
        None => "/reset".into(),
    }
}

/// The page behind an emailed link (verification or reset).
#[derive(Template)]
#[template(path = "email_link.html")]
pub struct EmailLinkPage {
    pub heading: String,
    pub intro: String,
    pub action: String,
    pub email: String,
    pub choose_password: bool,
    pub button: &'static str,
    pub csrf_token: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "reset_request.html")]
pub struct ResetRequestPage {
    pub email: String,
    pub resume: Option<String>,
    pub csrf_token: String,
    pub error: Option<String>,
}

/// The one answer to a reset request, whether or not the address has an account.
pub fn reset_requested(email: &str) -> MessagePage {
    MessagePage::new(
        "Check your inbox",
        format!(
            "If {email} belongs to an account, a link to choose a new password is on its way \
             to it. It can take a minute to arrive; look in the spam folder too."
        ),
    )
}

#[derive(Template)]
#[template(path = "authorize.html")]
pub struct AuthorizePage {
    pub client_name: String,
    pub forms: SignInForms,
}

/// A third-party client asks for the person's data.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub client_name: String,
    pub email: String,
    /// What each scope gives, in words.
    pub scopes: Vec<&'static str>,
    /// The authorization request, carried through the form.
    pub hidden: Vec<(String, String)>,
    pub csrf_token: String,
}
