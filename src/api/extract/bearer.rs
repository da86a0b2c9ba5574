//! The invitee API's caller: an access token from `Authorization: Bearer`,
//! for an account whose email is verified. enlist's own tokens are checked
//! without touching the database; a trusted issuer's JWT
//! (`[[auth.trusted_issuers]]`) is checked against its keys, and its
//! identity `(iss, sub)` finds (or, first time, makes) the account.

use crate::domain::event::{Actor, Origin};
use crate::http::problem::ApiError;
use crate::services::ServiceError;
use crate::services::error_code::ErrorCode;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{Either, LocalBoxFuture};
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

fn insufficient_scope() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::MissingScope,
        "the access token was not granted the `invitations` scope: ask for it (with \
         `openid` if the app also signs people in)",
    )
    .with_header(
        WWW_AUTHENTICATE,
        "Bearer realm=\"enlist\", error=\"insufficient_scope\", scope=\"invitations\"",
    )
}

fn unverified() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::EmailUnverified,
        "this account's email address is not verified yet: follow the link in the \
         verification message enlist sent to it (signing in again on the sign-in page \
         sends a new one), then get a new access token",
    )
}

/// Who the request's token names: enlist's own token (answered at once),
/// or a trusted issuer's, which needs its keys and the account.
enum Bearer {
    Known(Result<InviteeCaller, ApiError>),
    Trusted(web::Data<AppState>, String, Option<String>),
}

fn read(req: &HttpRequest) -> Bearer {
    let known = |result| Bearer::Known(result);
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return known(Err(missing()));
    };
    let Some((scheme, token)) = header.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return known(Err(invalid()));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return known(Err(missing()));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return known(Err(ApiError::internal(
            "application state is not registered",
        )));
    };
    let request_id = crate::http::request_log::request_id(req);
    let token = token.trim();
    let Ok(claims) = state.tokens.verify(token, state.clock.now()) else {
        let trusted = crate::federation::trusted::claims_issuer(token)
            .is_some_and(|issuer| state.trusted_issuers.is_trusted(&issuer));
        return match trusted {
            true => Bearer::Trusted(state.clone(), token.to_owned(), request_id),
            false => known(Err(invalid())),
        };
    };
    let Some(user_id) = claims.user_id() else {
        return known(Err(invalid()));
    };
    // A token a relying party got only to sign someone in (`openid`
    // without `invitations`) does not open their invitations.
    if !claims
        .scope
        .split_whitespace()
        .any(|scope| scope == crate::services::oauth::SCOPE)
    {
        return known(Err(insufficient_scope()));
    }
    // Invitations are matched by email: only a proven one may see them.
    if !claims.email_verified {
        return known(Err(unverified()));
    }
    known(Ok(InviteeCaller {
        user_id,
        email: claims.email,
        client_id: claims.client_id,
        request_id,
    }))
}

/// A trusted issuer's token: its signature and claims, then its account.
async fn trusted(
    state: &AppState,
    token: &str,
    request_id: Option<String>,
) -> Result<InviteeCaller, ApiError> {
    let identity = state
        .trusted_issuers
        .verify(token, state.clock.now())
        .await
        .map_err(|error| {
            tracing::info!(%error, "trusted issuer token refused");
            invalid()
        })?;
    // Named with its issuer, so an issuer's `azp` can never pass for one of
    // enlist's own clients in the audit log.
    let client_id = match &identity.client {
        Some(client) => format!("{}#{client}", identity.issuer),
        None => identity.issuer.clone(),
    };
    let user = state
        .accounts
        .bearer_account(identity)
        .await
        .map_err(|error| match error {
            ServiceError::Forbidden { .. } => unverified(),
            other => ApiError::from(other),
        })?;
    if !user.email_verified() {
        return Err(unverified());
    }
    Ok(InviteeCaller {
        user_id: user.id,
        email: user.email,
        client_id,
        request_id,
    })
}

impl FromRequest for InviteeCaller {
    type Error = ApiError;
    type Future =
        Either<Ready<Result<Self, ApiError>>, LocalBoxFuture<'static, Result<Self, ApiError>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        match read(req) {
            Bearer::Known(result) => Either::Left(ready(result)),
            Bearer::Trusted(state, token, request_id) => Either::Right(Box::pin(async move {
                trusted(&state, &token, request_id).await
            })),
        }
    }
}
