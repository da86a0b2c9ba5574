//! `GET/POST /userinfo` (OIDC Core 5.3): the claims about the person an
//! access token with the `openid` scope is for, as its scopes allow.
//! Refusals follow RFC 6750 3.1: a `WWW-Authenticate: Bearer` challenge.

use super::no_store;
use crate::services::oidc::{self, UserinfoRefusal};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use std::fmt;

/// An RFC 6750 refusal.
#[derive(Debug)]
pub enum UserinfoError {
    /// No bearer token: a bare challenge (RFC 6750 3.1).
    NoToken,
    InvalidToken(&'static str),
    InsufficientScope,
    Server(String),
}

impl fmt::Display for UserinfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserinfoError::NoToken => f.write_str("no bearer token"),
            UserinfoError::InvalidToken(why) => write!(f, "invalid_token: {why}"),
            UserinfoError::InsufficientScope => f.write_str("insufficient_scope"),
            UserinfoError::Server(error) => write!(f, "userinfo failed: {error}"),
        }
    }
}

impl ResponseError for UserinfoError {
    fn status_code(&self) -> StatusCode {
        match self {
            UserinfoError::NoToken | UserinfoError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            UserinfoError::InsufficientScope => StatusCode::FORBIDDEN,
            UserinfoError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (challenge, body) = match self {
            UserinfoError::NoToken => (
                "Bearer realm=\"enlist\"".to_owned(),
                serde_json::json!({"error": "invalid_request", "error_description": "send the access token as Authorization: Bearer"}),
            ),
            UserinfoError::InvalidToken(why) => (
                format!(
                    "Bearer realm=\"enlist\", error=\"invalid_token\", error_description=\"{why}\""
                ),
                serde_json::json!({"error": "invalid_token", "error_description": why}),
            ),
            UserinfoError::InsufficientScope => (
                "Bearer realm=\"enlist\", error=\"insufficient_scope\", scope=\"openid\""
                    .to_owned(),
                serde_json::json!({"error": "insufficient_scope", "error_description": "the access token was not granted the openid scope"}),
            ),
            UserinfoError::Server(_) => (
                "Bearer realm=\"enlist\"".to_owned(),
                serde_json::json!({"error": "server_error", "error_description": crate::http::problem::INTERNAL_DETAIL}),
            ),
        };
        let mut response = HttpResponse::build(self.status_code());
        no_store(&mut response);
        response.insert_header((header::WWW_AUTHENTICATE, challenge));
        let mut response = response.json(body);
        if let UserinfoError::Server(error) = self {
            crate::http::request_log::attach_failure(&mut response, error);
        }
        response
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// `GET /userinfo` and `POST /userinfo`, with the token in `Authorization`.
#[utoipa::path(
    get, path = "/userinfo", operation_id = "userinfo", tag = "OAuth2",
    security(("oauth2" = ["openid"])),
    responses(
        (status = 200, description = "The person's claims (`sub`; `email`, `email_verified` with the email scope; `name`, `given_name`, `family_name`, `picture` with the profile scope; `organizations` (and `organizations_truncated` when capped) with the organizations scope)", body = Object),
        (status = 401, description = "No token, or an invalid or expired one (RFC 6750: with a `WWW-Authenticate: Bearer` challenge)", body = crate::api::oauth::OAuthErrorBody),
        (status = 403, description = "The token lacks the openid scope (RFC 6750 `insufficient_scope`)", body = crate::api::oauth::OAuthErrorBody)
    )
)]
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UserinfoError> {
    let token = bearer(&req).ok_or(UserinfoError::NoToken)?;
    let now = state.clock.now();
    let claims = state
        .tokens
        .verify(token, now)
        .map_err(|_| UserinfoError::InvalidToken("the access token is invalid or expired"))?;
    let user_id = claims.user_id().ok_or(UserinfoError::InvalidToken(
        "the access token names no account",
    ))?;
    let person = state
        .db
        .read(move |conn| oidc::userinfo(conn, user_id, &claims.scope))
        .await
        .map_err(|error| UserinfoError::Server(error.to_string()))?
        .map_err(|refusal| match refusal {
            UserinfoRefusal::InvalidToken => {
                UserinfoError::InvalidToken("the account no longer exists")
            }
            UserinfoRefusal::InsufficientScope => UserinfoError::InsufficientScope,
        })?;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.json(person))
}
