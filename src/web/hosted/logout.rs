//! `GET/POST /oauth/logout`: OpenID Connect RP-Initiated Logout 1.0 (the
//! `end_session_endpoint`). It ends the browser's enlist session and sends
//! it back to the client's registered `post_logout_redirect_uri` (with its
//! `state`). Without an `id_token_hint` naming the signed-in person, it asks
//! first (a form): a link on any site must not sign people out.

use crate::services::oidc::{self, IdTokenHint};
use crate::state::AppState;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::render::{MessagePage, Redirect};
use crate::web::sign_in::{self, Browser};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    client_id: Option<String>,
    state: Option<String>,
}

impl LogoutParams {
    fn hidden_fields(&self) -> Vec<(String, String)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("client_id", &self.client_id),
            ("state", &self.state),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name.to_owned(), v.clone())))
        .collect()
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    email: String,
    hidden: Vec<(String, String)>,
    csrf_token: String,
}

fn refused(message: &str) -> HtmlError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "This sign-out link is not valid",
        message,
    )
    .into()
}

/// The request's hint, checked, and where the browser goes afterwards.
async fn checked(
    state: &AppState,
    params: &LogoutParams,
) -> Result<(Option<IdTokenHint>, Option<String>), HtmlError> {
    let hint = match params.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
        Some(token) => {
            let (sub, aud) = state.tokens.id_token_hint(token).ok_or_else(|| {
                refused("The sign-out request carries a token this server did not issue.")
            })?;
            Some(IdTokenHint {
                user_id: sub.parse().ok(),
                client_id: aud,
            })
        }
        None => None,
    };
    let (lookup_hint, client_id, uri) = (
        hint.clone(),
        params.client_id.clone(),
        params.post_logout_redirect_uri.clone(),
    );
    let target = state
        .db
        .read(move |conn| {
            oidc::logout_return(
                conn,
                lookup_hint.as_ref(),
                client_id.as_deref(),
                uri.as_deref(),
            )
        })
        .await
        .map_err(|error| PageError::internal(format!("logout: {error}")))?
        .map_err(|refusal| refused(refusal.message()))?;
    Ok((hint, target))
}

/// `GET /oauth/logout`
pub async fn show(
    req: HttpRequest,
    browser: Browser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let params = serde_urlencoded::from_str::<LogoutParams>(req.query_string())
        .map_err(|_| refused("The sign-out link is malformed or repeats a parameter."))?;
    let (hint, target) = checked(&state, &params).await?;
    let Some(session) = browser.signed_in(&state).await else {
        return Ok(signed_out(&state, &browser, target, &params).await?);
    };
    if hint.is_some_and(|hint| hint.user_id == Some(session.user_id)) {
        return Ok(signed_out(&state, &browser, target, &params).await?);
    }
    let csrf = crate::web::csrf::csrf_token(&req);
    let page = LogoutPage {
        email: session.email,
        hidden: params.hidden_fields(),
        csrf_token: csrf.clone(),
    };
    let origin = target.as_deref().and_then(crate::web::render::origin_of);
    let targets: Vec<&str> = origin.iter().map(String::as_str).collect();
    Ok(FormPage::new(
        StatusCode::OK,
        &page,
        &csrf,
        crate::web::render::secure(&state),
    )
    .form_targets(&targets)
    .response())
}

/// `POST /oauth/logout`: the person confirmed.
pub async fn confirm(
    browser: Browser,
    GenuineForm(params): GenuineForm<LogoutParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let (_, target) = checked(&state, &params).await?;
    Ok(signed_out(&state, &browser, target, &params).await?)
}

/// Ends the session (if any), forgets its cookie, and goes to `target` with
/// the client's `state`, or says so on a page.
async fn signed_out(
    state: &AppState,
    browser: &Browser,
    target: Option<String>,
    params: &LogoutParams,
) -> Result<HttpResponse, PageError> {
    if let Some(token) = browser.session_token() {
        state
            .db
            .write(move |tx| crate::services::sessions::end(tx, &token))
            .await
            .map_err(PageError::internal)?;
    }
    let mut response = match target {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(PageError::internal)?;
            if let Some(client_state) = &params.state {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            Redirect::to(url.as_str()).without_referrer().response()
        }
        None => crate::web::render::render(
            StatusCode::OK,
            &MessagePage::new(
                "You are signed out",
                "You are signed out of enlist in this browser. You can close this page.",
            ),
            &[],
        ),
    };
    crate::web::render::add_cookie(
        &mut response,
        &sign_in::removal(sign_in::session_cookie("", state)),
    );
    Ok(response)
}
