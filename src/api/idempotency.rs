//! `Idempotency-Key` on the admin API's POST, PUT, PATCH and DELETE: the first
//! answer (status, content type, body) is stored per API key and replayed,
//! with `Idempotent-Replayed: true`, for the same method, path and body
//! until `idempotency.ttl` passes. The same key with another request
//! answers 422; while the first is still running, 409. Answers worth
//! retrying (429 and 5xx) are not kept. An answer that shows a secret once
//! (see [`secret_once`]) is stored, and replayed, without it.

use crate::api::dto::ShownOnce;
use crate::api::extract::api_key::PresentedKey;
use crate::http::problem::ApiError;
use crate::services;
use crate::services::error_code::ErrorCode;
use crate::services::idempotency::Begin;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED: &str = "Idempotent-Replayed";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What a replay answers instead of the first answer's body, put on the
/// response by [`secret_once`].
struct ReplayBody(Vec<u8>);

/// 200 with `body`, whose secret this client sees once: an idempotent
/// replay answers `body.without_secret()`, the only form stored. A replay
/// that handed the secret out again would need it kept, in clear, for
/// `idempotency.ttl`, readable by anyone who can read the database or its
/// backups.
pub fn secret_once(body: &impl ShownOnce) -> Result<HttpResponse, ApiError> {
    let replay = serde_json::to_vec(&body.without_secret()).map_err(ApiError::internal)?;
    let mut response = HttpResponse::Ok().json(body);
    response.extensions_mut().insert(ReplayBody(replay));
    Ok(response)
}

fn problem(req: ServiceRequest, error: ApiError) -> ServiceResponse<BoxBody> {
    req.error_response(error).map_into_boxed_body()
}

/// Whether a key is 1 to 255 printable ASCII characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

#[expect(
    clippy::too_many_lines,
    reason = "one request's path through the replay cache reads best in order: claim, run, store, release"
)]
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let writes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(raw) = req.headers().get(HEADER).filter(|_| writes) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let key = match raw.to_str() {
        Ok(key) if valid_key(key) => key.to_owned(),
        _ => {
            return Ok(problem(
                req,
                ApiError::bad_request(
                    "Idempotency-Key",
                    "Idempotency-Key must be 1 to 255 printable ASCII characters",
                ),
            ));
        }
    };
    let (Some(state), Some(presented)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.extensions().get::<PresentedKey>().cloned(),
    ) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    // An unknown key is the handler's to refuse (401), with no entry kept.
    let Ok(caller) = state.db.read(move |conn| presented.verify(conn)).await else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let api_key_id = caller.key_id();

    // The body, read once, fingerprinted with the method and path, and put back.
    let limit = state.settings.server.json_body_limit.0;
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk?);
        if u64::try_from(body.len()).unwrap_or(u64::MAX) > limit {
            return Ok(problem(
                req,
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!("the JSON body is larger than {limit} bytes"),
                ),
            ));
        }
    }
    let body = body.freeze();
    let mut digest = Sha256::new();
    digest.update(req.method().as_str().as_bytes());
    digest.update([0]);
    digest.update(req.uri().to_string().as_bytes());
    digest.update([0]);
    digest.update(&body);
    let fingerprint = digest.finalize().to_vec();
    req.set_payload(Payload::from(body));

    let ttl = state.settings.idempotency.ttl.0;
    let now = state.clock.now();
    let begin_key = key.clone();
    let begun = state
        .db
        .write(move |tx| {
            services::idempotency::begin(tx, api_key_id, &begin_key, &fingerprint, ttl, now)
        })
        .await
        .map_err(ApiError::from);
    match begun {
        Err(error) => Ok(problem(req, error)),
        Ok(Begin::Mismatch) => Ok(problem(
            req,
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for another request (method, path or body)",
            ),
        )),
        Ok(Begin::InProgress) => Ok(problem(
            req,
            ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyKeyInUse,
                "a request with this Idempotency-Key is still running; retry later",
            ),
        )),
        Ok(Begin::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut response =
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
            if let Some(content_type) = content_type {
                response.insert_header((CONTENT_TYPE, content_type));
            }
            response.insert_header((REPLAYED, "true"));
            let (http, _) = req.into_parts();
            Ok(ServiceResponse::new(http, response.body(body)))
        }
        Ok(Begin::Fresh) => {
            let response = next.call(req).await?;
            let (http, mut response) = response.into_parts();
            let replay = response.extensions_mut().remove::<ReplayBody>();
            let (head, body) = response.into_parts();
            let bytes = to_bytes(body).await.map_err(|e| {
                actix_web::error::ErrorInternalServerError(format!("response body: {}", e.into()))
            })?;
            let status = head.status();
            let content_type = head
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let keep = !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS);
            let stored = match replay {
                Some(ReplayBody(replay)) => replay,
                None => bytes.to_vec(),
            };
            let outcome = state
                .db
                .write(move |tx| {
                    if keep {
                        services::idempotency::complete(
                            tx,
                            api_key_id,
                            &key,
                            status.as_u16(),
                            content_type.as_deref(),
                            &stored,
                        )
                    } else {
                        services::idempotency::forget(tx, api_key_id, &key)
                    }
                })
                .await;
            if let Err(error) = outcome {
                tracing::warn!(%error, "could not store the idempotent answer");
            }
            Ok(ServiceResponse::new(
                http,
                head.set_body(BoxBody::new(bytes)),
            ))
        }
    }
}
