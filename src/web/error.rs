//! The one HTML error page, as `http::problem` is the one JSON error.

use super::render::{MessagePage, render, set_retry_after};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;

/// The one kind of HTML error page, as [`crate::http::problem::ApiError`]
/// is the one kind of JSON error: a status, a heading, a sentence for the
/// person, and `Retry-After` when waiting helps. A 500 never says more than
/// that something went wrong; its cause goes to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub status: StatusCode,
    pub heading: String,
    pub message: String,
    pub retry_after: Option<std::time::Duration>,
    /// For a failure on our side: the cause, for the request's log line.
    cause: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, heading: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            heading: heading.into(),
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// Failed on our side: logged with its cause (on the request line),
    /// shown without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            crate::http::problem::INTERNAL_DETAIL,
        );
        error.cause = Some(cause.to_string());
        error
    }

    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn response(&self) -> HttpResponse {
        let mut response = render(
            self.status,
            &MessagePage::new(self.heading.clone(), self.message.clone()),
            &[],
        );
        set_retry_after(&mut response, self.retry_after);
        if let Some(cause) = &self.cause {
            crate::http::request_log::attach_failure(&mut response, cause);
        }
        response
    }
}

impl From<PageError> for HttpResponse {
    fn from(error: PageError) -> Self {
        error.response()
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.heading)
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}

/// The OpenAPI document's name for an HTML error page (the hosted pages'
/// operations answer with one).
pub struct ErrorPage;

impl<'s> utoipa::ToResponse<'s> for ErrorPage {
    fn response() -> (
        &'s str,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    ) {
        use utoipa::openapi::schema::{Object, Type};
        let page = utoipa::openapi::response::ResponseBuilder::new()
            .description("An error page")
            .content(
                "text/html",
                utoipa::openapi::Content::new(Some(Object::with_type(Type::String))),
            );
        ("ErrorPage", utoipa::openapi::RefOr::T(page.build()))
    }
}
