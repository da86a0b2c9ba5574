//! The HTML errors, as `http::problem` is the JSON one: the message page
//! ([`PageError`]) and every other way a page or form fails
//! ([`HtmlError`]), each rendering itself, so that handlers answer
//! failures with `?`.

use super::csrf::FormPage;
use super::render::{MessagePage, Redirect, render, set_retry_after};
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

    /// A service call that failed on our side, or could not be made now:
    /// 503 with `Retry-After` when storage was busy or the service says
    /// when to come back (nothing was changed), 500 otherwise.
    pub fn failed(error: &crate::services::ServiceError) -> Self {
        use crate::services::ServiceError;
        let status = Self::failed_status(error);
        match error {
            ServiceError::Storage(busy) if busy.is_busy() => {
                tracing::warn!(error = %busy, "storage busy; answering 503");
                Self::new(
                    status,
                    "Try again shortly",
                    "The server is busy. Nothing was changed; try again in a moment.",
                )
                .with_retry_after(std::time::Duration::from_secs(1))
            }
            ServiceError::Unavailable {
                detail,
                retry_after_secs,
            } => Self::new(status, "Try again shortly", detail.clone())
                .with_retry_after(std::time::Duration::from_secs(*retry_after_secs)),
            other => Self::internal(other),
        }
    }

    /// The status [`PageError::failed`] answers with, without building the
    /// page (or logging): 503 when waiting helps, 500 otherwise.
    pub fn failed_status(error: &crate::services::ServiceError) -> StatusCode {
        use crate::services::ServiceError;
        match error {
            ServiceError::Storage(busy) if busy.is_busy() => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
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

/// Why a page or form did not get its usual answer, carrying all it
/// needs to render itself (kanidm's `HtmxError`): a hosted handler returns
/// `Result<HttpResponse, HtmlError>` and fails with `?`.
#[derive(Debug)]
pub enum HtmlError {
    /// The message page: a status, a heading, a sentence.
    Message(PageError),
    /// Somewhere else instead: back to the OAuth2 client with its `error`,
    /// or to the page as this visitor may see it.
    Redirect(Redirect),
    /// The page with its forms again (and the CSRF cookie they pair with),
    /// saying what went wrong.
    Form(FormPage),
}

impl From<PageError> for HtmlError {
    fn from(error: PageError) -> Self {
        HtmlError::Message(error)
    }
}

impl From<FormPage> for HtmlError {
    fn from(page: FormPage) -> Self {
        HtmlError::Form(page)
    }
}

impl From<Redirect> for HtmlError {
    fn from(redirect: Redirect) -> Self {
        HtmlError::Redirect(redirect)
    }
}

impl std::fmt::Display for HtmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HtmlError::Message(error) => error.fmt(f),
            HtmlError::Redirect(_) => f.write_str("redirected"),
            HtmlError::Form(page) => write!(f, "{}: the form again", page.status()),
        }
    }
}

impl actix_web::ResponseError for HtmlError {
    fn status_code(&self) -> StatusCode {
        match self {
            HtmlError::Message(error) => error.status,
            HtmlError::Redirect(_) => StatusCode::SEE_OTHER,
            HtmlError::Form(page) => page.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            HtmlError::Message(error) => error.response(),
            HtmlError::Redirect(redirect) => redirect.response(),
            HtmlError::Form(page) => page.response(),
        }
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
