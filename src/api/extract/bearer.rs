//! The invitee API's caller: an access token enlist issued, from
//! `Authorization: Bearer`, for an account whose email is verified.
//! Checked without touching the database.

use crate::domain::event::{Actor, Origin};
use crate::http::problem::ApiError;
use crate::services::error_code::ErrorCode;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpRequest, web};
use std::future::{Ready, ready};

#[derive(Debug, Clone)]
pub struct InviteeCaller {
    pub user_id: i64,
    pub email: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    pub request_id: Option<String>,
}

impl InviteeCaller {
    /// The person through their client, as the actor of what they change.
    pub fn origin(&self) -> Origin {
        Origin::new(
            Actor::Client {
                client_id: self.client_id.clone(),
                user_id: self.user_id,
            },
            self.request_id.clone(),
        )
    }
}

fn missing() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::MissingToken,
        "send an access token in the Authorization header: Bearer <token>",
    )
    .with_header(WWW_AUTHENTICATE, "Bearer realm=\"enlist\"")
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidToken,
        "the access token is invalid or has expired",
    )
    .with_header(
        WWW_AUTHENTICATE,
        "Bearer realm=\"enlist\", error=\"invalid_token\"",
    )
}

fn identify(req: &HttpRequest) -> Result<InviteeCaller, ApiError> {
    let header = req.headers().get(AUTHORIZATION).ok_or_else(missing)?;
    let value = header.to_str().map_err(|_| invalid())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state is not registered"))?;
    let claims = state
        .tokens
        .verify(token.trim(), state.clock.now())
        .map_err(|_| invalid())?;
    let user_id = claims.user_id().ok_or_else(invalid)?;
    // Invitations are matched by email: only a proven one may see them.
    if !claims.email_verified {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::EmailUnverified,
            "this account's email address is not verified yet: follow the link in the \
             verification message enlist sent to it (signing in again on the sign-in page \
             sends a new one), then get a new access token",
        ));
    }
    Ok(InviteeCaller {
        user_id,
        email: claims.email,
        client_id: claims.client_id,
        request_id: crate::http::request_log::request_id(req),
    })
}

impl FromRequest for InviteeCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req))
    }
}
