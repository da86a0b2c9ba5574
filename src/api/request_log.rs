//! One log line per request, and the `X-Request-Id` that ties a client's
//! report to that line. Headers and bodies are never logged: they carry
//! keys, tokens, cookies and passwords.

use super::metrics::Metrics;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's id is kept when it is short and plain; anything else is
/// replaced, so ids are safe to log and to echo.
fn accepted_request_id(value: Option<&HeaderValue>) -> Option<String> {
    let text = value?.to_str().ok()?;
    let plain = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    plain.then(|| text.to_owned())
}

pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = accepted_request_id(req.headers().get(&REQUEST_ID))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().clone();
    let metrics = req.app_data::<actix_web::web::Data<Metrics>>().cloned();
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = match next.call(req).instrument(span.clone()).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // Inner middleware answer with responses, not errors; this is a
            // last resort that actix renders itself.
            let _entered = span.enter();
            tracing::warn!(method = %method, %error, "request failed before routing");
            return Err(error);
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let status = response.status().as_u16();
    // Microsecond precision, as a number.
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    if let Some(metrics) = metrics {
        metrics.observe(
            method.as_str(),
            &route,
            status,
            started.elapsed().as_secs_f64(),
        );
    }
    let _entered = span.enter();
    tracing::info!(
        method = %method,
        route = %route,
        status,
        latency_ms,
        request_id = %request_id,
        "request"
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_ids_and_replaces_others() {
        let ok = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(
            accepted_request_id(Some(&ok)).as_deref(),
            Some("abc-123_x.y")
        );
        for bad in ["", "has space", "semi;colon", &"a".repeat(129)] {
            let value = HeaderValue::from_str(bad).unwrap();
            assert_eq!(accepted_request_id(Some(&value)), None, "{bad:?}");
        }
        assert_eq!(accepted_request_id(None), None);
    }
}
