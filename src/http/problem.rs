//! The HTTP layer's one error type, rendered as RFC 9457 problem details.

use crate::services::ServiceError;
use crate::services::StorageError;
use crate::services::error_code::ErrorCode;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

/// The message every 500 carries: nothing about the cause reaches the client.
pub const INTERNAL_DETAIL: &str = "An unknown error occurred, trying again might help.";

pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    detail: String,
    field: Option<&'static str>,
    headers: Vec<(HeaderName, String)>,
    /// Logged for 5xx answers, never sent.
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// An RFC 9457 problem details body, as every error outside `/oauth` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails<'a> {
    /// `urn:enlist:problem:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:enlist:problem:validation_failed")]
    pub kind: String,
    /// The HTTP status phrase.
    #[schema(example = "Bad Request")]
    pub title: &'a str,
    #[schema(example = 400)]
    pub status: u16,
    /// What went wrong, for people.
    #[schema(example = "limit must be between 1 and 1000, got 0")]
    pub detail: &'a str,
    /// A stable, machine-readable name for the problem.
    #[schema(example = "validation_failed")]
    pub code: &'a str,
    /// The request input at fault, for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "limit")]
    pub field: Option<&'a str>,
}

pub fn problem_type(code: &str) -> String {
    format!("urn:enlist:problem:{code}")
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field: None,
            headers: Vec::new(),
            cause: None,
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bad_request(field: &'static str, detail: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, detail);
        error.field = Some(field);
        error
    }

    pub fn unprocessable(field: &'static str, detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            detail,
        );
        error.field = Some(field);
        error
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, detail)
    }

    pub fn method_not_allowed(allow: impl Into<String>) -> Self {
        let allow = allow.into();
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("this resource accepts {allow}"),
        )
        .with_header(header::ALLOW, allow)
    }

    pub fn unavailable(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            detail,
        )
        .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            INTERNAL_DETAIL,
        );
        error.cause = Some(cause.into());
        error
    }

    /// An extractor's failure (already rendered by its error handler) as an
    /// ApiError, keeping its status, code and detail.
    pub fn from_extractor(error: actix_web::Error) -> Self {
        match error.as_error::<ApiError>() {
            Some(api) => Self {
                status: api.status,
                code: api.code,
                detail: api.detail.clone(),
                field: api.field,
                headers: api.headers.clone(),
                cause: None,
            },
            None => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::ValidationFailed,
                error.to_string(),
            ),
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status.as_u16())
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field(
                "cause",
                &self.cause.as_ref().map(|c| error_chain(c.as_ref())),
            )
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if !self.status.is_server_error() {
            tracing::debug!(status = self.status.as_u16(), code = self.code.as_str(), detail = %self.detail, "request refused");
        }
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.insert_header((name.clone(), value));
            }
        }
        let mut response = response.json(ProblemDetails {
            kind: problem_type(self.code.as_str()),
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
            field: self.field,
        });
        if self.status.is_server_error() {
            let cause = self
                .cause
                .as_ref()
                .map(|c| error_chain(c.as_ref()))
                .unwrap_or_else(|| self.detail.clone());
            // Logged once, on the request line (request_log).
            crate::http::request_log::attach_failure(
                &mut response,
                format!("{}: {cause}", self.code),
            );
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            busy if busy.is_busy() => {
                // Nothing was changed: the pool, the write queue or a lock
                // held elsewhere did not free up in time.
                tracing::warn!(error = %busy, "storage busy; answering 503");
                ApiError::unavailable("the server is busy; retry in a moment", 1)
            }
            StorageError::NulCharacter => {
                ApiError::bad_request("input", "text may not contain NUL characters (U+0000)")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid { field, detail } => ApiError::bad_request(field, detail),
            ServiceError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            ServiceError::InvalidCursor => {
                let mut error = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidCursor,
                    ServiceError::InvalidCursor.to_string(),
                );
                error.field = Some("after");
                error
            }
            ServiceError::Conflict { code, detail } => {
                ApiError::new(StatusCode::CONFLICT, code, detail)
            }
            ServiceError::Gone { code, detail } => ApiError::new(StatusCode::GONE, code, detail),
            ServiceError::TooSoon {
                detail,
                retry_after_secs,
            } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                detail,
            )
            .with_header(header::RETRY_AFTER, retry_after_secs.to_string()),
            ServiceError::Forbidden { code, detail } => {
                ApiError::new(StatusCode::FORBIDDEN, code, detail)
            }
            ServiceError::Unauthorized(detail) => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, detail)
            }
            ServiceError::Unavailable {
                detail,
                retry_after_secs,
            } => ApiError::unavailable(detail, retry_after_secs),
            ServiceError::Internal(error) => ApiError::internal(error),
            ServiceError::Storage(storage) => storage.into(),
            ServiceError::Delivery(error) => ApiError::internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.error_response();
        let status = response.status();
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let error = ApiError::from(ServiceError::from(StorageError::Unsupported(
            "sqlite: no such table: invitations".into(),
        )));
        let (status, body) = body_of(error).await;
        assert_eq!(status, 500);
        assert_eq!(body["detail"], INTERNAL_DETAIL);
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().to_lowercase().contains("sql"));
    }

    #[actix_web::test]
    async fn service_errors_map_to_statuses() {
        let (status, body) = body_of(ServiceError::NotFound("invitation").into()).await;
        assert_eq!(
            (status.as_u16(), body["detail"].as_str()),
            (404, Some("invitation not found"))
        );
        let (status, body) = body_of(ServiceError::invalid("role", "bad role").into()).await;
        assert_eq!(status, 400);
        assert_eq!(body["field"], "role");
        assert_eq!(body["type"], "urn:enlist:problem:validation_failed");
        assert_eq!(body["title"], "Bad Request");
        let (status, body) =
            body_of(ServiceError::conflict(ErrorCode::LastAdmin, "no").into()).await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (409, Some("last_admin"))
        );
    }
}
