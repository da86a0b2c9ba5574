//! Signing in with a code mailed to the inbox. `POST /auth/email-code/send`
//! (the "Email me a code" form of every sign-in page) mails one and answers
//! the page to type it on; `GET /auth/email-code` is that page (the mailed
//! link fills the code in: a GET never uses a code, so a mail scanner that
//! opens the link changes nothing); `POST /auth/email-code` signs in with
//! it. The rules are the accounts service's
//! (`services::accounts::email_code`).

use crate::domain::sign_in_code::{DIGITS, SignInCode};
use crate::services::accounts::{
    CodeSignedIn, CodeState, CodeView, FormOutcome, ReturnTo, SignedIn,
};
use crate::services::oauth::AuthorizeParams;
use crate::state::AppState;
use crate::web::csrf::{FormPage, GenuineForm};
use crate::web::error::{HtmlError, PageError};
use crate::web::sign_in::{self, Browser, FormError, Onward};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

/// Marks the browser that asked for a code: the code works there only.
pub const CODE_COOKIE: &str = "enlist_code";

/// The "Email me a code" form.
#[derive(Debug, Deserialize)]
pub struct SendForm {
    email: Option<String>,
    /// The sign-in page the form is on (its path and query).
    return_to: Option<String>,
}

/// The code page's form, and the mailed link's query.
#[derive(Default, Deserialize)]
pub struct CodeForm {
    code: Option<String>,
}

/// The page a code is typed on (or asked for again).
#[derive(Template)]
#[template(path = "email_code.html")]
pub struct EmailCodePage {
    /// Where the code went, when this browser asked for one.
    pub sent_to: Option<String>,
    /// The address the "send a new code" form carries.
    pub email: String,
    /// Whether the code may still be tried (its form is shown).
    pub can_try: bool,
    /// The code, when the mailed link filled it in.
    pub code: String,
    pub return_to: Option<String>,
    pub csrf_token: String,
    pub error: Option<String>,
    pub digits: usize,
}

/// What the page shows besides its forms.
struct Shown<'a> {
    view: Option<&'a CodeView>,
    /// The address typed, when no code was sent to this browser.
    email: &'a str,
    return_to: Option<&'a ReturnTo>,
    code: &'a str,
}

fn page(
    req: &HttpRequest,
    state: &AppState,
    shown: &Shown<'_>,
    error: Option<&FormError>,
) -> FormPage {
    let csrf_token = crate::web::csrf::csrf_token(req);
    let view = shown.view;
    let return_to = view.and_then(|v| v.return_to.as_ref()).or(shown.return_to);
    let page = EmailCodePage {
        sent_to: view.map(|v| v.email.clone()),
        email: view.map_or_else(|| shown.email.to_owned(), |v| v.email.clone()),
        can_try: view.is_some_and(|v| v.state == CodeState::Live),
        code: shown.code.to_owned(),
        return_to: return_to.map(|r| r.as_str().to_owned()),
        csrf_token: csrf_token.clone(),
        error: error.map(|e| e.message.clone()),
        digits: DIGITS,
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    // Signing in may end at the app that sent the person (Chrome applies
    // form-action to the redirect that follows a post).
    let targets: Vec<String> = return_to.and_then(app_origin).into_iter().collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    FormPage::new(
        status,
        &page,
        &csrf_token,
        crate::web::render::secure(state),
    )
    .form_targets(&targets)
    .retry_after(error.and_then(|e| e.retry_after))
}

/// The origin of the OAuth2 client a sign-in returns to, if it does.
fn app_origin(return_to: &ReturnTo) -> Option<String> {
    let query = return_to.as_str().strip_prefix("/oauth/authorize?")?;
    AuthorizeParams::from_query(query)?
        .redirect_uri()
        .and_then(crate::web::render::origin_of)
}

fn code_cookie(value: &str, state: &AppState) -> Cookie<'static> {
    let secure = crate::web::render::secure(state);
    let lifetime = crate::domain::sign_in_code::LIFETIME.as_secs();
    Cookie::build(
        crate::web::render::cookie_name(CODE_COOKIE, secure),
        value.to_owned(),
    )
    .path("/")
    .http_only(true)
    .secure(secure)
    // Lax: the mailed link, opened from the mail, is a top-level navigation.
    .same_site(SameSite::Lax)
    .max_age(time::Duration::seconds(
        i64::try_from(lifetime).unwrap_or(600),
    ))
    .finish()
}

fn code_browser(req: &HttpRequest, state: &AppState) -> Option<String> {
    let secure = crate::web::render::secure(state);
    req.cookie(&crate::web::render::cookie_name(CODE_COOKIE, secure))
        .map(|c| c.value().to_owned())
}

/// `POST /auth/email-code/send`: mails a code and answers the page to type
/// it on, the same whether or not the address has an account.
pub async fn send(
    req: HttpRequest,
    browser: Browser,
    GenuineForm(form): GenuineForm<SendForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let email = form.email.as_deref().unwrap_or("").trim();
    let return_to = match form.return_to.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(path) => Some(ReturnTo::parse(path).ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Start from a sign-in page",
                "This form does not say which page it came from. Go back to the sign-in page \
                 and ask for the code there.",
            )
        })?),
    };
    let asked = Shown {
        view: None,
        email,
        return_to: return_to.as_ref(),
        code: "",
    };
    let sent = state
        .accounts
        .send_code(email, return_to.clone(), &browser.address())
        .await
        .map_err(|e| page(&req, &state, &asked, Some(&e.into())))?;
    let view = CodeView {
        email: sent.email,
        return_to: return_to.clone(),
        state: CodeState::Live,
    };
    let shown = Shown {
        view: Some(&view),
        ..asked
    };
    let mut response = page(&req, &state, &shown, None).response();
    crate::web::render::add_cookie(&mut response, &code_cookie(&sent.browser, &state));
    Ok(response)
}

/// `GET /auth/email-code[?code=…]`: the page to type the code on, filled
/// in from the mailed link. Nothing is tried or used.
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    // A malformed query is as good as none: the code is typed instead.
    let query = serde_urlencoded::from_str::<CodeForm>(req.query_string()).unwrap_or_default();
    let code = query
        .code
        .as_deref()
        .and_then(|typed| SignInCode::parse(typed).ok());
    let view = state
        .accounts
        .code_view(code_browser(&req, &state).as_deref())
        .await
        .map_err(|e| ask_again(&req, &state, &e.into()))?;
    let refusal = view.refusal().map(FormError::from);
    let shown = Shown {
        view: Some(&view),
        email: "",
        return_to: None,
        code: code.as_ref().map_or("", SignInCode::digits),
    };
    Ok(page(&req, &state, &shown, refusal.as_ref()).response())
}

/// `POST /auth/email-code`: signs in with the code, then on to where the
/// sign-in page was going. A refused code answers the page again, saying why.
pub async fn sign_in(
    req: HttpRequest,
    GenuineForm(form): GenuineForm<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let browser = code_browser(&req, &state);
    let typed = form.code.as_deref().unwrap_or("");
    let signed = state
        .accounts
        .sign_in_with_code(browser.as_deref(), typed)
        .await;
    match signed {
        Ok(signed) => Ok(signed_in(&state, signed).await),
        Err(error) => {
            let error = FormError::from(error);
            // The page again, as this browser's code now stands.
            let view = state
                .accounts
                .code_view(browser.as_deref())
                .await
                .map_err(|_| ask_again(&req, &state, &error))?;
            let shown = Shown {
                view: Some(&view),
                email: "",
                return_to: None,
                code: "",
            };
            Err(page(&req, &state, &shown, Some(&error)).into())
        }
    }
}

/// The page for a browser with no code to try: it says why, and offers to
/// send one.
fn ask_again(req: &HttpRequest, state: &AppState, error: &FormError) -> HtmlError {
    let shown = Shown {
        view: None,
        email: "",
        return_to: None,
        code: "",
    };
    page(req, state, &shown, Some(error)).into()
}

/// Signed in: the session's cookies, and on to the page the code was asked
/// from (the account page when none).
async fn signed_in(state: &AppState, signed: CodeSignedIn) -> HttpResponse {
    let CodeSignedIn { outcome, return_to } = signed;
    let person: Option<SignedIn> = match &outcome {
        FormOutcome::SignedIn(person) => Some(person.clone()),
        FormOutcome::CheckInbox { .. } => None,
    };
    let onward = match &return_to {
        Some(return_to) => {
            crate::web::hosted::oidc::onward(state, return_to, return_to.as_str().to_owned()).await
        }
        None => Ok(Onward::Page("/account".into())),
    };
    let finished = match onward {
        Ok(onward) => sign_in::finish_outcome(state, outcome, onward).await,
        Err(refusal) => Err(refusal),
    };
    // The code's cookie stays until it runs out: typed again, the used
    // code is named as such.
    finished.unwrap_or_else(|refusal| {
        // Where the person was going refuses them now (an app's request
        // that no longer checks out): they are signed in all the same.
        let mut response = refusal.error_response();
        if let Some(person) = &person {
            sign_in::add_signed_in_cookies(&mut response, person, state);
        }
        response
    })
}
