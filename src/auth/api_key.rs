//! The admin API's caller: an organization API key from `X-API-Key`.

use crate::api::problem::ApiError;
use crate::domain::{ApiKey, Scope};
use crate::services;
use crate::startup::AppState;
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::WWW_AUTHENTICATE;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::{Ready, ready};

pub const HEADER: &str = "X-API-Key";

/// An authenticated API key. Every admin handler takes one and calls
/// [`AdminCaller::require`] first; the organization always comes from here,
/// never from the path or body.
pub struct AdminCaller(ApiKey);

impl AdminCaller {
    pub fn org_id(&self) -> i64 {
        self.0.org_id
    }

    /// The member the key was created for: the inviter of invitations it creates.
    pub fn user_id(&self) -> i64 {
        self.0.user_id
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing_scope",
                format!("this API key lacks the `{scope}` scope"),
            ))
        }
    }
}

fn unauthorized(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
        .with_header(WWW_AUTHENTICATE, format!("ApiKey header=\"{HEADER}\""))
}

/// Middleware for the admin scope: authenticates the key before any other
/// extractor runs, so an unauthenticated caller learns nothing from body or
/// parameter validation, and handlers read the result synchronously.
pub async fn authenticate<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    match identify(&req).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(error) => Ok(req.error_response(error).map_into_right_body()),
    }
}

async fn identify(req: &ServiceRequest) -> Result<AdminCaller, ApiError> {
    let presented = match req.headers().get(HEADER).map(|value| value.to_str()) {
        None => {
            return Err(unauthorized(
                "missing_api_key",
                "send an organization API key in the X-API-Key header",
            ));
        }
        Some(Err(_)) => return Err(unauthorized("invalid_api_key", "the API key is not valid")),
        Some(Ok(value)) => value.trim().to_owned(),
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("application state is not registered"))?;
    state
        .db
        .read(move |conn| services::api_keys::authenticate(conn, &presented))
        .await?
        .map(AdminCaller)
        .ok_or_else(|| unauthorized("invalid_api_key", "the API key is not valid"))
}

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<AdminCaller>()
                .map(|caller| AdminCaller(caller.0.clone()))
                .ok_or_else(|| {
                    ApiError::internal("admin handler mounted outside the API-key middleware")
                }),
        )
    }
}
