//! The admin API's caller: an organization API key from `X-API-Key`.

use crate::auth::throttle::RejectedKeys;
use crate::domain::event::{Actor, Origin};
use crate::domain::scope::GrantRefused;
use crate::domain::{ApiKey, Role, Scope};
use crate::http::problem::ApiError;
use crate::services;
use crate::services::Conn;
use crate::services::error_code::ErrorCode;
use crate::state::AppState;
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::WWW_AUTHENTICATE;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

pub const HEADER: &str = "X-API-Key";

/// An authenticated API key. Every admin handler takes one and calls
/// [`AdminCaller::require`] first; the organization always comes from here,
/// never from the path or body.
pub struct AdminCaller {
    key: ApiKey,
    request_id: Option<String>,
}

impl AdminCaller {
    /// The key and its owner, as the actor of what this request changes.
    pub fn origin(&self) -> Origin {
        Origin::new(
            Actor::ApiKey {
                api_key_id: self.key.id,
                user_id: self.key.user_id,
            },
            self.request_id.clone(),
        )
    }

    pub fn org_id(&self) -> i64 {
        self.key.org_id
    }

    /// The key's own id (what idempotency keys are scoped by).
    pub fn key_id(&self) -> i64 {
        self.key.id
    }

    /// The member the key was created for: the inviter of invitations it creates.
    pub fn user_id(&self) -> i64 {
        self.key.user_id
    }

    /// Whether the key may hand out `role` through what `base` creates or
    /// sends (see [`crate::domain::scope::check_grant`]).
    pub fn check_grant(&self, base: Scope, role: &Role) -> Result<(), GrantRefused> {
        crate::domain::scope::check_grant(&self.key.scopes, base, role)
    }

    /// [`AdminCaller::check_grant`] as the 403 `missing_scope` a request answers.
    pub fn may_grant(&self, base: Scope, role: &Role) -> Result<(), ApiError> {
        self.check_grant(base, role)
            .map_err(|refused| services::ServiceError::from(refused).into())
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::MissingScope,
                format!("this API key lacks the `{scope}` scope"),
            ))
        }
    }
}

fn unauthorized(code: ErrorCode, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
        .with_header(WWW_AUTHENTICATE, format!("ApiKey header=\"{HEADER}\""))
}

/// What verifying the request's key found, for the rate limit that runs
/// before the key is verified (inside the handler's storage call) and
/// counts the request against the key only if it authenticated.
#[derive(Clone, Default)]
pub struct KeyOutcome(Arc<AtomicU8>);

const AUTHENTICATED: u8 = 1;
const REFUSED: u8 = 2;

impl KeyOutcome {
    fn set(&self, authenticated: bool) {
        let value = if authenticated {
            AUTHENTICATED
        } else {
            REFUSED
        };
        self.0.store(value, Ordering::Release);
    }

    /// `Some(true)` once the key authenticated, `Some(false)` once it was
    /// refused; `None` while (or if) it was never checked against storage.
    pub fn get(&self) -> Option<bool> {
        match self.0.load(Ordering::Acquire) {
            AUTHENTICATED => Some(true),
            REFUSED => Some(false),
            _ => None,
        }
    }
}

/// An API key as the caller presented it: there, and shaped like a key
/// (the middleware made sure). [`PresentedKey::verify`] checks it against
/// storage inside the handler's own storage call, so a read endpoint costs
/// one trip to the database thread pool, not two.
#[derive(Clone)]
pub struct PresentedKey {
    key: String,
    rejected: Arc<RejectedKeys>,
    request_id: Option<String>,
    outcome: Option<KeyOutcome>,
}

impl PresentedKey {
    /// The caller, if the key is known, unrevoked, and its owner still an
    /// admin. A key found invalid is remembered as such (it stays invalid).
    pub fn verify(&self, conn: &Conn) -> Result<AdminCaller, ApiError> {
        let found = services::api_keys::authenticate(conn, &self.key)?;
        if let Some(outcome) = &self.outcome {
            outcome.set(found.is_some());
        }
        match found {
            Some(key) => Ok(AdminCaller {
                key,
                request_id: self.request_id.clone(),
            }),
            None => {
                self.rejected.insert(&self.key);
                Err(invalid_key())
            }
        }
    }
}

fn invalid_key() -> ApiError {
    unauthorized(ErrorCode::InvalidApiKey, "the API key is not valid")
}

/// Middleware for the admin scope: refuses a missing, malformed or known
/// invalid key before
/// any other extractor runs, so an unauthenticated caller learns nothing from
/// body or parameter validation. Handlers then verify the key in storage
/// first thing ([`PresentedKey`] or [`AdminCaller`]).
pub async fn authenticate<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let rejected = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.rejected_keys.clone())
        .unwrap_or_default();
    let presented = match req.headers().get(HEADER).map(|value| value.to_str()) {
        None => Err(unauthorized(
            ErrorCode::MissingApiKey,
            "send an organization API key in the X-API-Key header",
        )),
        Some(Ok(value))
            if services::api_keys::well_formed(value.trim())
                && !rejected.contains(value.trim()) =>
        {
            Ok(PresentedKey {
                key: value.trim().to_owned(),
                rejected,
                request_id: req
                    .extensions()
                    .get::<crate::http::request_log::RequestId>()
                    .map(|id| id.0.clone()),
                outcome: req.extensions().get::<KeyOutcome>().cloned(),
            })
        }
        Some(_) => Err(invalid_key()),
    };
    match presented {
        Ok(key) => {
            req.extensions_mut().insert(key);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(error) => Ok(req.error_response(error).map_into_right_body()),
    }
}

impl FromRequest for PresentedKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<PresentedKey>()
                .cloned()
                .ok_or_else(|| {
                    ApiError::internal("admin handler mounted outside the API-key middleware")
                }),
        )
    }
}

/// A verified caller, for handlers that write: verified with one read, so
/// the write transaction never runs for an unknown key.
impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = PresentedKey::from_request(req, payload).into_inner();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let key = key?;
            let state =
                state.ok_or_else(|| ApiError::internal("application state is not registered"))?;
            state.db.read(move |conn| key.verify(conn)).await
        })
    }
}
