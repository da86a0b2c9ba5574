//! What every request meets before routing and every answer carries after:
//! a method enlist does not use is refused before anything reads the
//! request (no authentication, no body, no handler), and JSON answers carry
//! `X-Content-Type-Options: nosniff`, errors and 404s included.

use crate::http::problem::ApiError;
use crate::services::error_code::ErrorCode;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

/// The methods enlist answers; anything else is [`refuse_unknown`]'s and
/// counts as `OTHER` in the metrics.
const KNOWN: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// The method as a metrics label: one of `KNOWN`, or `OTHER`. Clients
/// choose the method freely, so taking it as sent would let anyone add
/// series without end.
pub fn method_label(method: &Method) -> &'static str {
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("OTHER", Method::as_str)
}

/// The middleware (see the module documentation). An unknown method
/// answers 501 problem details (`method_not_implemented`), the status
/// RFC 9110 gives a method the server does not recognise for any resource;
/// a known method a route does not take still answers that route's 405.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // HEAD is GET without the body (RFC 9110 §9.3.2), so every GET route
    // answers it: routed as GET, and the connection, which saw HEAD, sends
    // the headers alone. Uptime checkers probe with HEAD.
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    if method_label(req.method()) == "OTHER" {
        let refused = ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorCode::MethodNotImplemented,
            "enlist answers GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS only",
        );
        let mut refused = req.error_response(refused);
        add_nosniff(refused.headers_mut());
        return Ok(refused);
    }
    match next.call(req).await {
        Ok(mut response) => {
            add_nosniff(response.headers_mut());
            Ok(response.map_into_boxed_body())
        }
        // Rendered after this middleware ran: the header goes in then.
        Err(mut error) => {
            error.add_response_mapper(|mut response| {
                add_nosniff(response.headers_mut());
                response
            });
            Err(error)
        }
    }
}

/// Adds `nosniff` to a JSON answer (`application/json`, `…+json`), so no
/// browser ever reads one as HTML or script.
fn add_nosniff(headers: &mut HeaderMap) {
    if is_json(headers.get(header::CONTENT_TYPE)) {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_a_fixed_set() {
        for known in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            let method = Method::from_bytes(known.as_bytes()).unwrap();
            assert_eq!(method_label(&method), known);
        }
        for other in ["FOO", "BREW", "PROPFIND", "TRACE", "CONNECT", "get"] {
            let method = Method::from_bytes(other.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "OTHER", "{other}");
        }
    }

    #[test]
    fn json_is_told_by_its_media_type_essence() {
        for json in [
            "application/json",
            "application/problem+json",
            "Application/JSON; charset=utf-8",
        ] {
            assert!(is_json(Some(&HeaderValue::from_static(json))), "{json}");
        }
        for other in ["text/html; charset=utf-8", "text/plain", "text/json+html"] {
            assert!(!is_json(Some(&HeaderValue::from_static(other))), "{other}");
        }
        assert!(!is_json(None));
    }
}
