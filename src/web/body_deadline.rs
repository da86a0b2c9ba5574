//! A whole-body deadline. `server.request_timeout` covers only a request's
//! head: a client trickling its body a byte at a time would hold a worker's
//! connection (and the handler waiting on it) for as long as it likes. This
//! middleware gives every request body `server.body_timeout` from the moment
//! its head arrived; a body not complete by then ends the request with 408
//! (problem details on the APIs, an HTML page on the hosted forms) and the
//! connection is closed.

use crate::http::problem::ApiError;
use crate::services::error_code::ErrorCode;
use crate::state::AppState;
use crate::web::render::MessagePage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::http::{ConnectionType, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures_util::Stream;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The middleware (see the module documentation).
pub async fn enforce<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.server.body_timeout.0);
    let Some(limit) = limit.filter(|_| has_body(&req)) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let timed_out = Rc::new(Cell::new(false));
    let inner = req.take_payload();
    req.set_payload(Payload::Stream {
        payload: Box::pin(Deadline {
            inner,
            sleep: Box::pin(actix_web::rt::time::sleep(limit)),
            timed_out: timed_out.clone(),
            done: false,
        }),
    });
    let too_slow = TooSlow {
        html: is_html_form(req.method(), req.path()),
        limit,
    };
    let outcome = next.call(req).await;
    if !timed_out.get() {
        return outcome.map(ServiceResponse::map_into_left_body);
    }
    match outcome {
        Ok(served) => {
            let (request, _) = served.into_parts();
            Ok(ServiceResponse::new(request, too_slow.error_response()).map_into_right_body())
        }
        Err(_) => Err(too_slow.into()),
    }
}

/// The answer to a body that did not arrive in time.
#[derive(Debug)]
struct TooSlow {
    html: bool,
    limit: Duration,
}

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {:?}", self.limit)
    }
}

impl ResponseError for TooSlow {
    fn status_code(&self) -> StatusCode {
        StatusCode::REQUEST_TIMEOUT
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = too_slow(self.html, self.limit);
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        response
    }
}

/// Whether the request announces a body (a length above zero, or chunks).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(TRANSFER_ENCODING) {
        return true;
    }
    headers.get(CONTENT_LENGTH).is_some_and(|value| {
        value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_none_or(|length| length > 0)
    })
}

/// The hosted pages' forms answer with pages; everything else with problem details.
fn is_html_form(method: &Method, path: &str) -> bool {
    method == Method::POST && (path == "/oauth/authorize" || path.starts_with("/invite/"))
}

fn too_slow(html: bool, limit: Duration) -> HttpResponse {
    let seconds = limit.as_secs_f64();
    if html {
        crate::web::render::render(
            StatusCode::REQUEST_TIMEOUT,
            &MessagePage::new(
                "The form took too long to arrive",
                "Your browser did not finish sending the form in time. Go back, reload the page and try again.",
            ),
            &[],
        )
    } else {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RequestTimeout,
            format!("the request body did not arrive within {seconds} s"),
        )
        .error_response()
    }
}

/// The request's payload, cut off with an error once the deadline passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<actix_web::rt::time::Sleep>>,
    timed_out: Rc<Cell<bool>>,
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let next = Pin::new(&mut this.inner).poll_next(cx);
        match next {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(chunk)) if !this.sleep.is_elapsed() => Poll::Ready(Some(chunk)),
            Poll::Pending if this.sleep.as_mut().poll(cx).is_pending() => Poll::Pending,
            // Late: pending with the deadline passed, or a chunk after it.
            _ => {
                this.done = true;
                this.timed_out.set(true);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )))))
            }
        }
    }
}
