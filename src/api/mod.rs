//! The HTTP surface: routes, extractor settings and error shapes.

pub mod admin;
pub mod dto;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod invitee;
pub mod oauth;
pub mod openapi;
pub mod params;
pub mod rate_limit;

use crate::http::problem::ApiError;
use crate::http::routes::{self, Endpoint};
use crate::services::error_code::ErrorCode;
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};

/// The extractor settings every surface shares: JSON bodies up to
/// `json_limit` bytes, and malformed bodies, query strings and paths
/// answered as problem details.
pub fn extractor_settings(cfg: &mut web::ServiceConfig, json_limit: usize) {
    cfg.app_data(json_config(json_limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::bad_request("path", e.to_string()).into()),
        );
}

/// The operational endpoints: liveness, readiness, and the API reference's
/// address without its trailing slash.
pub fn configure_operations(cfg: &mut web::ServiceConfig) {
    routes::register(
        cfg,
        [
            Endpoint::at("/healthz").get(health::live),
            Endpoint::at("/readyz").get(health::ready),
            Endpoint::at("/docs").get(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                    .finish()
            }),
        ],
    );
}

/// The admin API under `/v1`: every request authenticated by its key,
/// rate limited, and replayed when it repeats an `Idempotency-Key`.
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .wrap(from_fn(idempotency::idempotent))
            .wrap(from_fn(extract::api_key::authenticate))
            .wrap(from_fn(rate_limit::limit))
            .configure(admin::configure)
            .default_service(web::to(not_found)),
    );
}

/// `/metrics`, on the main server or on its own address.
pub fn metrics_resource() -> actix_web::Resource {
    Endpoint::at("/metrics")
        .get(health::metrics)
        .into_resource()
}

/// What answers a path no surface registered: 404 in problem-details form.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no resource at {} {}",
        req.method(),
        params::clip(req.path())
    )))
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _| json_error(error).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the JSON body is larger than {limit} bytes"),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::bad_request("body", e.to_string())
        }
        JsonPayloadError::Deserialize(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedJson,
            "the body could not be read",
        ),
    }
}

fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("query", format!("the query string is malformed: {error}")).into()
}
