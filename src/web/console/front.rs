//! The console's front door, `/admin`: sign-in, the organization picker,
//! the page for someone who administers nothing, and sign-out.

use super::{ButtonForm, ConsoleForm, Notice};
use crate::services::accounts::{Factors, PasskeyAnswer, Resume};
use crate::services::console::{self as gate, Lobby};
use crate::state::AppState;
use crate::web::csrf::{FormPage, FormRejection};
use crate::web::error::{HtmlError, PageError};
use crate::web::sign_in::{self, Browser, Credentials, FormError, Onward};
use actix_web::error::InternalError;
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
        providers: Vec<crate::web::sign_in::ProviderButton>,
    },
    /// Signed in with an address not proven yet.
    Unverified { email: String },
    /// Signed in, administering none.
    NotAdmin { email: String },
    Picker {
        email: String,
        organizations: Vec<PickedOrganization>,
    },
    /// An administrator asked for their second factor: the ones usable
    /// here (`factors`; none when their only one is a passkey and this
    /// server offers none).
    SecondFactor {
        email: String,
        factors: Factors,
        error: Option<String>,
    },
    /// An administrator who must enrol a second factor first.
    Enrol { email: String },
}

#[derive(Template)]
#[template(path = "console/front.html")]
pub struct FrontPage {
    pub view: FrontView,
    pub notice: Option<Notice>,
    pub csrf_token: String,
    /// Whether "Sign in with a passkey" is offered.
    pub passkeys: bool,
    /// Whether a signed-in person may create an organization here
    /// (`organizations.self_serve`).
    pub self_serve: bool,
    /// Whether the signed-in person is one of `console.operators`.
    pub operator: bool,
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    view: FrontView,
    notice: Option<Notice>,
    retry_after: Option<Duration>,
) -> FormPage {
    let csrf_token = crate::web::csrf::csrf_token(req);
    let signed_in = match &view {
        FrontView::NotAdmin { email } | FrontView::Picker { email, .. } => Some(email.as_str()),
        _ => None,
    };
    let page = FrontPage {
        operator: signed_in
            .is_some_and(|email| gate::is_operator(&state.settings.console.operators, email)),
        self_serve: signed_in.is_some() && state.settings.organizations.self_serve,
        view,
        notice,
        csrf_token,
        passkeys: state.accounts.passkeys_offered(),
    };
    FormPage::new(
        status,
        &page,
        &page.csrf_token,
        crate::web::render::secure(state),
    )
    .retry_after(retry_after)
    .scripts(sign_in::page_scripts(state))
}

fn sign_in_view(state: &AppState, email: String, error: Option<String>) -> FrontView {
    FrontView::SignIn {
        email,
        error,
        reset_href: crate::web::hosted::reset_href(Some(&Resume::Console)),
        providers: crate::web::sign_in::provider_buttons(state, "/admin"),
    }
}

/// The answer to a refused console form: a stale or forged one lands on
/// the front door saying so; an unreadable one gets its own page.
pub(super) async fn refuse(req: HttpRequest, rejection: FormRejection) -> actix_web::Error {
    let state = req.app_data::<web::Data<AppState>>();
    match (rejection, state) {
        (FormRejection::Expired, Some(state)) => {
            let notice = Some(Notice::FORM_EXPIRED);
            let page = front_door(&req, state, StatusCode::FORBIDDEN, notice).await;
            InternalError::from_response(rejection, page).into()
        }
        _ => rejection.into(),
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
    let token = sign_in::session_token(req, state);
    let now = state.clock.now();
    let policy = state.settings.auth.admin_mfa;
    let passkeys = state.accounts.passkeys_offered();
    let lobby = state
        .db
        .read(move |conn| gate::lobby(conn, token.as_deref(), policy, passkeys, now))
        .await;
    match lobby {
        Ok(lobby) => lobby_page(req, state, status, notice, lobby),
        Err(error) => PageError::failed(&error).response(),
    }
}

/// The front door for where the person stands.
fn lobby_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    notice: Option<Notice>,
    lobby: Lobby,
) -> HttpResponse {
    // One organization and nothing to say (nor to offer): straight to it.
    if let Lobby::SignedIn {
        organizations,
        email,
    } = &lobby
        && let [only] = organizations.as_slice()
        && notice.is_none()
        && status == StatusCode::OK
        && !state.settings.organizations.self_serve
        && !gate::is_operator(&state.settings.console.operators, email)
    {
        return crate::web::render::see_other(&format!("/admin/orgs/{}", only.organization_uuid));
    }
    let shown = |status, view| render(req, state, status, view, notice, None).response();
    match lobby {
        Lobby::SignedOut => shown(
            status,
            sign_in_view(state, String::new(), sign_in::declined_notice(req)),
        ),
        Lobby::Unverified { email } => {
            shown(StatusCode::FORBIDDEN, FrontView::Unverified { email })
        }
        Lobby::SecondFactor {
            email,
            enrolled: true,
            factors,
        } => shown(
            status,
            FrontView::SecondFactor {
                email,
                factors,
                error: None,
            },
        ),
        Lobby::SecondFactor {
            email,
            enrolled: false,
            ..
        } => shown(StatusCode::FORBIDDEN, FrontView::Enrol { email }),
        Lobby::SignedIn {
            email,
            organizations,
        } if organizations.is_empty() => {
            shown(StatusCode::FORBIDDEN, FrontView::NotAdmin { email })
        }
        Lobby::SignedIn {
            email,
            organizations,
        } => {
            let organizations = organizations
                .into_iter()
                .map(|membership| PickedOrganization {
                    href: format!("/admin/orgs/{}", membership.organization_uuid),
                    name: membership.organization_name,
                    logo_url: membership.organization_logo_url,
                })
                .collect();
            let picker = FrontView::Picker {
                email,
                organizations,
            };
            shown(status, picker)
        }
    }
}

/// `GET /admin`
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    front_door(&req, &state, StatusCode::OK, Notice::requested(&req)).await
}

/// `POST /admin`: the sign-in form. Signed in, the browser goes through
/// the front door again (to the organization picker, or straight in).
pub async fn sign_in(
    req: HttpRequest,
    browser: Browser,
    ConsoleForm(form): ConsoleForm<Credentials>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    // The console has no sign-up: admins are made by their organization.
    let form = form.signing_in();
    let context = browser.form_context(Some(Resume::Console), None);
    let again = |error: &FormError| {
        let view = sign_in_view(&state, form.email().to_owned(), Some(error.message.clone()));
        render(&req, &state, error.status, view, None, error.retry_after)
    };
    let onward = Onward::Page("/admin".into());
    sign_in::finish(&state, &form, &context, onward, again).await
}

/// `POST /admin/sign-out`: ends the session (on the hosted pages too: it
/// is the same one).
pub async fn sign_out(
    browser: Browser,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    if let Some(token) = browser.session_token() {
        state
            .db
            .write(move |tx| crate::services::sessions::end(tx, &token))
            .await
            .map_err(|error| PageError::failed(&error))?;
    }
    let mut response = crate::web::render::see_other("/admin?notice=signed-out");
    crate::web::render::add_cookie(
        &mut response,
        &sign_in::removal(sign_in::session_cookie("", &state)),
    );
    Ok(response)
}

/// The self-serve form: the new organization's name.
#[derive(Default, serde::Deserialize)]
pub struct NewOrganizationForm {
    #[serde(default)]
    pub name: String,
}

/// `POST /admin/organizations`: the signed-in person creates an
/// organization of their own (`organizations.self_serve`) and lands in its
/// console; a refusal comes back to the front door saying why.
pub async fn create_organization(
    req: HttpRequest,
    browser: Browser,
    ConsoleForm(form): ConsoleForm<NewOrganizationForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    use crate::services::ServiceError;
    let Some(person) = browser.signed_in(&state).await else {
        return Ok(crate::web::render::see_other("/admin?notice=session-ended"));
    };
    let rules = crate::services::orgs::SelfServe {
        enabled: state.settings.organizations.self_serve,
        per_user_limit: state.settings.organizations.per_user_limit,
    };
    let origin = crate::domain::event::Origin::new(
        crate::domain::event::Actor::User {
            user_id: person.user_id,
        },
        crate::http::request_log::request_id(&req),
    );
    let now = state.clock.now();
    let created = state
        .db
        .write(move |tx| {
            crate::services::orgs::create_for_self(
                tx,
                &origin,
                person.user_id,
                &form.name,
                rules,
                now,
            )
        })
        .await;
    let notice = match created {
        Ok(membership) => {
            return Ok(crate::web::render::see_other(&format!(
                "/admin/orgs/{}",
                membership.organization_uuid
            )));
        }
        Err(ServiceError::Invalid { .. }) => "org-name-invalid",
        Err(ServiceError::Conflict { .. }) => "org-limit",
        Err(ServiceError::Forbidden { .. }) => "self-serve-off",
        Err(error) => return Err(PageError::failed(&error).into()),
    };
    Ok(crate::web::render::see_other(&format!(
        "/admin?notice={notice}"
    )))
}

/// The second-factor forms: a code from the authenticator app (or a
/// recovery code), or a passkey's answer.
#[derive(Default, serde::Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    pub code: String,
    pub passkey_ceremony: Option<String>,
    pub passkey_response: Option<String>,
}

/// `POST /admin/second-factor`: proves the signed-in person's second
/// factor in this session (a passkey confirms it in place: the session
/// they hold is the one admitted), then back through the front door (to
/// the console). A wrong, replayed or locked code, or a refused passkey,
/// answers the form again, saying so.
pub async fn second_factor(
    req: HttpRequest,
    browser: Browser,
    ConsoleForm(form): ConsoleForm<SecondFactorForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let (Some(token), Some(person)) = (browser.session_token(), browser.signed_in(&state).await)
    else {
        return Ok(crate::web::render::see_other("/admin?notice=session-ended"));
    };
    let passkey = PasskeyAnswer::from_form(
        form.passkey_ceremony.as_deref(),
        form.passkey_response.as_deref(),
    );
    let proved = state
        .accounts
        .prove_second_factor(&token, &form.code, passkey)
        .await;
    match proved {
        Ok(()) => Ok(crate::web::render::see_other("/admin")),
        Err(error) => {
            // Only what the form offers again: a failure here shows it bare.
            let factors = state
                .accounts
                .second_factors(&token)
                .await
                .unwrap_or_default();
            let error = FormError::from(error);
            let view = FrontView::SecondFactor {
                email: person.email,
                factors,
                error: Some(error.message),
            };
            Ok(render(&req, &state, error.status, view, None, error.retry_after).response())
        }
    }
}
