//! `GET/POST /oauth/authorize`: the authorization-code flow's sign-in page.
//! Problems with the client or its redirect URI are shown on a page (never
//! redirected, RFC 6749 4.1.2.1); every other problem is sent back to the
//! client's redirect URI as `error`, `error_description` and `state`.

use crate::services::accounts::{FormOutcome, Resume};
use crate::services::oauth::{self, Authorization, AuthorizeRefusal, NewCode};
use crate::web::error::PageError;
use crate::web::hosted::AuthorizePage;
use crate::web::hosted::SignInForms;
use crate::web::sign_in::{self, Credentials, FormError};

pub use crate::services::oauth::AuthorizeParams;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct AuthorizeForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    #[serde(flatten)]
    credentials: Credentials,
}

fn page_error(status: StatusCode, message: &str) -> HttpResponse {
    let heading = if status.is_server_error() {
        "Something went wrong"
    } else {
        "This sign-in link is not valid"
    };
    PageError::new(status, heading, message).response()
}

/// Sends an error back to the client (RFC 6749 4.1.2.1), with `iss` (RFC 9207).
fn redirect_error(
    redirect_uri: &str,
    issuer: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> HttpResponse {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    redirect_with(redirect_uri, &pairs)
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::REFERRER_POLICY, "no-referrer"))
                .finish()
        }
        Err(_) => page_error(
            StatusCode::BAD_REQUEST,
            "The application's redirect address is malformed.",
        ),
    }
}

/// A refusal is a whole answer: an error page, or a redirect back to the client.
pub(crate) type Refusal = Box<HttpResponse>;

/// Checks the request through the OAuth2 service; a refusal becomes the
/// page or the redirect RFC 6749 4.1.2.1 asks for.
pub(crate) async fn validate(
    state: &AppState,
    params: &AuthorizeParams,
) -> Result<Authorization, Refusal> {
    let request = params.clone();
    let checked = state
        .db
        .read(move |conn| oauth::check_authorization(conn, &request))
        .await;
    match checked {
        Ok(Ok(authorization)) => Ok(authorization),
        Ok(Err(AuthorizeRefusal::Page(message))) => {
            Err(Box::new(page_error(StatusCode::BAD_REQUEST, message)))
        }
        Ok(Err(AuthorizeRefusal::Redirect {
            redirect_uri,
            error,
            description,
            state: client_state,
        })) => Err(Box::new(redirect_error(
            &redirect_uri,
            &state.public_url,
            error,
            &description,
            client_state.as_deref(),
        ))),
        Err(crate::services::StorageError::NulCharacter) => Err(Box::new(page_error(
            StatusCode::BAD_REQUEST,
            "The request's parameters may not contain NUL characters.",
        ))),
        Err(error) => Err(Box::new(
            PageError::internal(format!("authorize: client lookup failed: {error}")).response(),
        )),
    }
}

fn sign_in_page(
    req: &HttpRequest,
    state: &AppState,
    authorization: &Authorization,
    params: &AuthorizeParams,
    email: &str,
    error: Option<&FormError>,
) -> HttpResponse {
    let csrf = crate::web::csrf::csrf_token(req);
    let page = AuthorizePage {
        client_name: authorization.client.name.clone(),
        forms: SignInForms {
            action: "/oauth/authorize".into(),
            hidden: params.hidden_fields(),
            csrf_token: csrf.clone(),
            email: email.to_owned(),
            error: error.map(|e| e.message.clone()),
            reset_href: crate::web::hosted::reset_href(Some(&Resume::Authorize(params.query()))),
        },
    };
    // Chrome applies form-action to the redirect that follows a post.
    let target = crate::web::render::origin_of(&authorization.redirect_uri);
    let targets: Vec<&str> = target.iter().map(String::as_str).collect();
    crate::web::csrf::form_page(
        error.map_or(StatusCode::OK, |e| e.status),
        &page,
        &targets,
        &csrf,
        sign_in::secure(state),
        error.and_then(|e| e.retry_after),
    )
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
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Ok(query) = serde_urlencoded::from_str::<AuthorizeParams>(req.query_string()) else {
        return page_error(
            StatusCode::BAD_REQUEST,
            "The sign-in link is malformed or repeats a parameter.",
        );
    };
    match validate(&state, &query).await {
        Ok(authorization) => sign_in_page(&req, &state, &authorization, &query, "", None),
        Err(response) => *response,
    }
}

/// `POST /oauth/authorize`: the sign-in or sign-up form.
pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: AuthorizeForm = match crate::web::csrf::genuine_form(&req, &body) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let authorization = match validate(&state, &form.params).await {
        Ok(authorization) => authorization,
        Err(response) => return *response,
    };
    let email = form.credentials.email();
    let context = sign_in::form_context(
        &req,
        &state,
        Some(Resume::Authorize(form.params.query())),
        None,
    );
    let outcome = sign_in::submit(&state, &form.credentials, &context).await;
    let person = match outcome {
        Ok(FormOutcome::SignedIn(person)) => person,
        Ok(FormOutcome::CheckInbox { email, browser }) => {
            let mut response = crate::web::render::render(
                StatusCode::OK,
                &crate::web::hosted::check_inbox(&email),
                &[],
            );
            if let Some(browser) = browser {
                let _ = response.add_cookie(&sign_in::link_cookie(&browser, &state));
            }
            return response;
        }
        Err(error) => {
            return sign_in_page(
                &req,
                &state,
                &authorization,
                &form.params,
                email,
                Some(&error),
            );
        }
    };
    let mut response = grant_code(&state, authorization, person.user_id).await;
    sign_in::add_signed_in_cookies(&mut response, &person, &state);
    response
}

/// Issues a code for the signed-in person and sends the browser back to
/// the client with it.
pub(crate) async fn grant_code(
    state: &AppState,
    authorization: Authorization,
    user_id: i64,
) -> HttpResponse {
    let now = state.clock.now();
    let issued = state
        .db
        .write(move |tx| {
            oauth::issue_code(
                tx,
                &NewCode {
                    client: &authorization.client,
                    user_id,
                    redirect_uri: &authorization.redirect_uri,
                    code_challenge: authorization.code_challenge.as_deref(),
                    scope: authorization.scope,
                },
                now,
            )
            .map(|code| (code, authorization))
        })
        .await;
    match issued {
        Ok((code, authorization)) => {
            let mut pairs = vec![("code", code.as_str())];
            if let Some(state) = authorization.state.as_deref() {
                pairs.push(("state", state));
            }
            // RFC 9207: the client can tell which server answered.
            pairs.push(("iss", state.public_url.as_str()));
            redirect_with(&authorization.redirect_uri, &pairs)
        }
        Err(error) => {
            PageError::internal(format!("authorize: issuing a code failed: {error}")).response()
        }
    }
}
