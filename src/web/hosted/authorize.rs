//! `GET/POST /oauth/authorize`: the authorization-code flow's sign-in page,
//! and `POST /oauth/authorize/consent`, a third-party client's consent.
//! A browser already signed in goes straight back to the client (OpenID
//! Connect's single sign-on) unless the request asks otherwise (`prompt`,
//! `max_age`). Problems with the client or its redirect URI are shown on a
//! page (never redirected, RFC 6749 4.1.2.1); every other problem is sent
//! back to the client's redirect URI as `error`, `error_description` and
//! `state`.

use crate::services::accounts::Resume;
use crate::services::oauth::{self, Authorization, AuthorizeRefusal, NewCode};
use crate::services::oidc::{self, AfterSignIn, NextStep};
use crate::services::sessions::SessionUser;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::hosted::SignInForms;
use crate::web::hosted::{AuthorizePage, ConsentPage};
use crate::web::render::Redirect;
use crate::web::sign_in::{self, Browser, Credentials, FormError, Onward};

pub use crate::services::oauth::AuthorizeParams;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct AuthorizeForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    #[serde(flatten)]
    credentials: Credentials,
}

fn page_error(status: StatusCode, message: &str) -> PageError {
    let heading = if status.is_server_error() {
        "Something went wrong"
    } else {
        "This sign-in link is not valid"
    };
    PageError::new(status, heading, message)
}

/// Sends an error back to the client (RFC 6749 4.1.2.1), with `iss` (RFC 9207).
fn redirect_error(
    redirect_uri: &str,
    issuer: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> HtmlError {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    match back_to_client(redirect_uri, &pairs) {
        Ok(redirect) => redirect.into(),
        Err(page) => page.into(),
    }
}

/// The redirect to the client's `redirect_uri` with `pairs` added to its query.
fn back_to_client(redirect_uri: &str, pairs: &[(&str, &str)]) -> Result<Redirect, PageError> {
    let mut url = url::Url::parse(redirect_uri).map_err(|_| {
        page_error(
            StatusCode::BAD_REQUEST,
            "The application's redirect address is malformed.",
        )
    })?;
    url.query_pairs_mut().extend_pairs(pairs);
    Ok(Redirect::to(url.as_str()).without_referrer())
}

/// Checks the request through the OAuth2 service; a refusal becomes the
/// page or the redirect RFC 6749 4.1.2.1 asks for.
pub(crate) async fn validate(
    state: &AppState,
    params: &AuthorizeParams,
) -> Result<Authorization, HtmlError> {
    let request = params.clone();
    let checked = state
        .db
        .read(move |conn| oauth::check_authorization(conn, &request))
        .await;
    match checked {
        Ok(Ok(authorization)) => Ok(authorization),
        Ok(Err(AuthorizeRefusal::Page(message))) => {
            Err(page_error(StatusCode::BAD_REQUEST, message).into())
        }
        Ok(Err(AuthorizeRefusal::Redirect {
            redirect_uri,
            error,
            description,
            state: client_state,
        })) => Err(redirect_error(
            &redirect_uri,
            &state.public_url,
            error,
            &description,
            client_state.as_deref(),
        )),
        Err(crate::services::StorageError::NulCharacter) => Err(page_error(
            StatusCode::BAD_REQUEST,
            "The request's parameters may not contain NUL characters.",
        )
        .into()),
        Err(error) => {
            Err(PageError::internal(format!("authorize: client lookup failed: {error}")).into())
        }
    }
}

/// Who asks for the sign-in, as its page shows it.
struct Client {
    name: String,
    redirect_uri: String,
}

impl Client {
    fn of(authorization: &Authorization) -> Self {
        Self {
            name: authorization.client.name.clone(),
            redirect_uri: authorization.redirect_uri.clone(),
        }
    }
}

/// The sign-in page for a checked request, with the refusal of the last
/// attempt (and its email) when there was one.
fn sign_in_page(
    req: &HttpRequest,
    state: &AppState,
    client: &Client,
    params: &AuthorizeParams,
    email: &str,
    error: Option<&FormError>,
) -> FormPage {
    let csrf = crate::web::csrf::csrf_token(req);
    let page = AuthorizePage {
        client_name: client.name.clone(),
        forms: SignInForms {
            action: "/oauth/authorize".into(),
            hidden: params.hidden_fields(),
            csrf_token: csrf.clone(),
            email: email.to_owned(),
            error: error
                .map(|e| e.message.clone())
                .or_else(|| crate::web::sign_in::declined_notice(req)),
            reset_href: crate::web::hosted::reset_href(Some(&Resume::Authorize(params.query()))),
            providers: crate::web::sign_in::provider_buttons(
                state,
                &format!("/oauth/authorize?{}", params.query()),
            ),
            return_to: format!("/oauth/authorize?{}", params.query()),
            passkeys: state.accounts.passkeys_offered(),
        },
    };
    // Chrome applies form-action to the redirect that follows a post.
    let target = crate::web::render::origin_of(&client.redirect_uri);
    let targets: Vec<&str> = target.iter().map(String::as_str).collect();
    FormPage::new(
        error.map_or(StatusCode::OK, |e| e.status),
        &page,
        &csrf,
        crate::web::render::secure(state),
    )
    .form_targets(&targets)
    .retry_after(error.and_then(|e| e.retry_after))
    .scripts(crate::web::sign_in::page_scripts(state))
}

/// `GET /oauth/authorize`. The query is read here rather than by an
/// extractor so that a malformed one (a repeated parameter, say) is shown
/// to the person as a page, like every other problem with the request.
#[utoipa::path(
    get, path = "/oauth/authorize", operation_id = "authorize", tag = "OAuth2",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query),
        ("redirect_uri" = String, Query, description = "Exactly as registered"),
        ("state" = Option<String>, Query),
        ("code_challenge" = String, Query, description = "Required (PKCE, S256)"),
        ("code_challenge_method" = String, Query, description = "`S256`"),
        ("scope" = Option<String>, Query, description = "`invitations`"),
    ),
    responses(
        (status = 200, description = "The sign-in and sign-up page", content_type = "text/html"),
        (status = 303, description = "Back to the client with an error (RFC 6749 4.1.2.1)"),
        (status = 400, description = "Unknown client or redirect URI: an error page", content_type = "text/html"),
        (status = 500, response = crate::web::error::ErrorPage)
    )
)]
pub async fn show(
    req: HttpRequest,
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let query =
        serde_urlencoded::from_str::<AuthorizeParams>(req.query_string()).map_err(|_| {
            page_error(
                StatusCode::BAD_REQUEST,
                "The sign-in link is malformed or repeats a parameter.",
            )
        })?;
    let authorization = validate(&state, &query).await?;
    let session = browser.signed_in(&state).await;
    let now = state.clock.now();
    let step = {
        let (authorization, session) = (authorization.clone(), session.clone());
        state
            .db
            .read(move |conn| oidc::next_step(conn, &authorization, session.as_ref(), now))
            .await
            .map_err(|error| PageError::internal(format!("authorize: {error}")))?
    };
    match (step, session) {
        (NextStep::Issue, Some(session)) => issue_code(&state, authorization, session).await,
        (NextStep::Consent, Some(session)) => {
            Ok(consent_page(&req, &state, &authorization, &query, &session.email).response())
        }
        (NextStep::Refuse { error, description }, _) => Err(redirect_error(
            &authorization.redirect_uri,
            &state.public_url,
            error,
            description,
            authorization.state.as_deref(),
        )),
        _ => {
            let client = Client::of(&authorization);
            Ok(sign_in_page(&req, &state, &client, &query, "", None).response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    /// `allow` or `deny`.
    decision: Option<String>,
}

/// `POST /oauth/authorize/consent`: the signed-in person allows the client
/// (remembered per client and scope, revocable on `/account`) or denies it
/// (`access_denied`).
pub async fn consent(
    browser: Browser,
    GenuineForm(form): GenuineForm<ConsentForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let authorization = validate(&state, &form.params).await?;
    let Some(session) = browser.signed_in(&state).await else {
        // The session ended between the page and the answer: sign in again.
        return Ok(crate::web::render::see_other(&format!(
            "/oauth/authorize?{}",
            form.params.query()
        )));
    };
    if form.decision.as_deref() != Some("allow") {
        return Err(redirect_error(
            &authorization.redirect_uri,
            &state.public_url,
            "access_denied",
            "the person did not allow the application",
            authorization.state.as_deref(),
        ));
    }
    let now = state.clock.now();
    let granted = authorization.clone();
    let user_id = session.user_id;
    state
        .db
        .write(move |tx| oidc::grant_consent(tx, &granted.client, user_id, &granted.scope, now))
        .await
        .map_err(|error| {
            PageError::internal(format!("authorize: saving consent failed: {error}"))
        })?;
    issue_code(&state, authorization, session).await
}

/// What a third-party client asks for, for the person to allow or deny.
fn consent_page(
    req: &HttpRequest,
    state: &AppState,
    authorization: &Authorization,
    params: &AuthorizeParams,
    email: &str,
) -> FormPage {
    let csrf = crate::web::csrf::csrf_token(req);
    let page = ConsentPage {
        client_name: authorization.client.name.clone(),
        email: email.to_owned(),
        scopes: authorization
            .scope
            .names()
            .iter()
            .map(|scope| scope.describe())
            .collect(),
        hidden: params.hidden_fields(),
        csrf_token: csrf.clone(),
    };
    let target = crate::web::render::origin_of(&authorization.redirect_uri);
    let targets: Vec<&str> = target.iter().map(String::as_str).collect();
    FormPage::new(
        StatusCode::OK,
        &page,
        &csrf,
        crate::web::render::secure(state),
    )
    .form_targets(&targets)
}

/// `POST /oauth/authorize`: the sign-in or sign-up form. Signed in, the
/// browser goes back to the client with a code.
pub async fn submit(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<AuthorizeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let authorization = validate(&state, &form.params).await?;
    let resume = Resume::Authorize(form.params.query());
    let context = browser.form_context(Some(resume), None);
    let client = Client::of(&authorization);
    let again = |error: &FormError| {
        let email = form.credentials.email();
        sign_in_page(&req, &state, &client, &form.params, email, Some(error))
    };
    let onward = Onward::App(Box::new(authorization));
    sign_in::finish(&state, &form.credentials, &context, onward, again).await
}

/// Once a sign-in form (or an emailed link, or a provider) signed the
/// person in with `session`: back to the client with a code, or, for a
/// third-party client they have not allowed yet, to the consent page (the
/// request again, without its `prompt=login`, which this sign-in answered).
pub(crate) async fn grant_code(
    state: &AppState,
    authorization: Authorization,
    session: &str,
) -> Result<HttpResponse, HtmlError> {
    let now = state.clock.now();
    let token = session.to_owned();
    let checked = authorization.clone();
    let next = state
        .db
        .write(move |tx| oidc::code_after_sign_in(tx, &checked, &token, now))
        .await
        .map_err(|error| PageError::internal(format!("authorize: {error}")))?;
    match next {
        AfterSignIn::Code(code) => code_redirect(state, &authorization, &code),
        AfterSignIn::Consent => Ok(crate::web::render::see_other(&format!(
            "/oauth/authorize?{}",
            authorization.params.after_sign_in().query()
        ))),
        AfterSignIn::SessionGone => {
            Err(PageError::internal("authorize: the new session is gone").into())
        }
    }
}

/// Issues a code for the signed-in person (saying when and how they signed
/// in) and sends the browser back to the client with it.
async fn issue_code(
    state: &AppState,
    authorization: Authorization,
    session: SessionUser,
) -> Result<HttpResponse, HtmlError> {
    let now = state.clock.now();
    let (code, authorization) = state
        .db
        .write(move |tx| {
            oauth::issue_code(
                tx,
                &NewCode {
                    authorization: &authorization,
                    user_id: session.user_id,
                    auth_time: session.signed_in_at,
                    methods: &session.methods,
                },
                now,
            )
            .map(|code| (code, authorization))
        })
        .await
        .map_err(|error| {
            PageError::internal(format!("authorize: issuing a code failed: {error}"))
        })?;
    code_redirect(state, &authorization, &code)
}

/// Back to the client with `code`, its `state` and `iss` (RFC 9207: the
/// client can tell which server answered).
fn code_redirect(
    state: &AppState,
    authorization: &Authorization,
    code: &str,
) -> Result<HttpResponse, HtmlError> {
    let mut pairs = vec![("code", code)];
    if let Some(state) = authorization.state.as_deref() {
        pairs.push(("state", state));
    }
    pairs.push(("iss", state.public_url.as_str()));
    Ok(back_to_client(&authorization.redirect_uri, &pairs)?.response())
}
