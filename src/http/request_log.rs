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

/// Why an answer is a 5xx, carried on the response to its request line, so
/// the cause is logged once, with the request id, method and route.
pub struct Failure(pub String);

/// Attaches the cause of a 5xx answer for the request line.
pub fn attach_failure(response: &mut actix_web::HttpResponse, cause: impl std::fmt::Display) {
    response.extensions_mut().insert(Failure(cause.to_string()));
}

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

/// Paths known to be routes of their own (no `{…}` in their template), per
/// application: actix finds a request's template by matching the path
/// against every route again, regular expressions included, which cost a
/// tenth of a light request. Only such paths are kept, so the set is as
/// small as the route table (and emptied if it ever grew past
/// `STATIC_ROUTES_MAX`).
#[derive(Default)]
pub struct RouteTemplates(std::sync::RwLock<std::collections::HashSet<String>>);

const STATIC_ROUTES_MAX: usize = 1024;

/// The route template of the request (`/v1/organization/invitations/{id}`).
fn route_template(req: &actix_web::HttpRequest) -> String {
    let known = req.app_data::<actix_web::web::Data<RouteTemplates>>();
    let path = req.path();
    if known
        .and_then(|known| known.0.read().ok().map(|set| set.contains(path)))
        .unwrap_or(false)
    {
        return path.to_owned();
    }
    let Some(template) = req.match_pattern() else {
        return "(unmatched)".to_owned();
    };
    if template == path
        && let Some(known) = known
        && let Ok(mut set) = known.0.write()
    {
        if set.len() >= STATIC_ROUTES_MAX {
            set.clear();
        }
        set.insert(template.clone());
    }
    template
}

/// The request's id (`X-Request-Id`, kept or made), for what the request
/// changes to name it (events carry it).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id [`log_requests`] gave the request, when it went through it.
pub fn request_id(req: &actix_web::HttpRequest) -> Option<String> {
    use actix_web::HttpMessage;
    req.extensions().get::<RequestId>().map(|id| id.0.clone())
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
    // Debug, not info: a span per request cost a sixth of a light request's
    // time (bench/ANALYSIS.md). The request line carries the id, and a 5xx
    // carries its cause there (`Failure`).
    let span = tracing::debug_span!("request", request_id = %request_id);
    {
        use actix_web::HttpMessage;
        req.extensions_mut().insert(RequestId(request_id.clone()));
    }
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
    let route = route_template(response.request());
    let status = response.status().as_u16();
    // Microsecond precision, as a number.
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    if let Some(metrics) = metrics {
        metrics.observe(
            super::edge::method_label(&method),
            &route,
            status,
            started.elapsed().as_secs_f64(),
        );
    }
    let failure = response
        .response()
        .extensions()
        .get::<Failure>()
        .map(|failure| failure.0.clone());
    let _entered = span.enter();
    // A 501 answers a method enlist does not implement: the client's
    // doing, like a 4xx, and not worth an error line per request.
    if status >= 500 && status != 501 {
        let cause = failure.as_deref().unwrap_or("(not given)");
        tracing::error!(
            method = %method,
            route = %route,
            status,
            latency_ms,
            request_id = %request_id,
            cause,
            "request"
        );
    } else {
        tracing::info!(
            method = %method,
            route = %route,
            status,
            latency_ms,
            request_id = %request_id,
            "request"
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::problem::ApiError;
    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse, middleware::from_fn, web};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn a_5xx_is_one_request_line_with_its_id_and_cause() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app =
            actix_test::init_service(App::new().wrap(from_fn(log_requests)).route(
                "/boom",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(ApiError::internal("the disk is on fire"))
                }),
            ))
            .await;
        let request = actix_test::TestRequest::get()
            .uri("/boom")
            .insert_header((REQUEST_ID, "trace-1"))
            .to_request();
        let response = actix_test::call_service(&app, request).await;
        assert_eq!(response.status(), 500);
        let body = actix_test::read_body(response).await;
        assert!(
            !String::from_utf8_lossy(&body).contains("fire"),
            "the cause stays in the log"
        );

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{log}");
        let line = &lines[0]["fields"];
        assert_eq!(lines[0]["level"], "ERROR", "{log}");
        assert_eq!(line["message"], "request", "{log}");
        assert_eq!(line["request_id"], "trace-1", "{log}");
        assert_eq!(line["status"], 500, "{log}");
        assert_eq!(line["route"], "/boom", "{log}");
        assert!(
            line["cause"]
                .as_str()
                .unwrap()
                .contains("the disk is on fire"),
            "{log}"
        );
    }

    #[actix_web::test]
    async fn route_templates_are_the_same_the_second_time() {
        async fn answer(req: actix_web::HttpRequest) -> String {
            route_template(&req)
        }
        let templates = web::Data::new(RouteTemplates::default());
        let app = actix_test::init_service(
            App::new()
                .app_data(templates.clone())
                .route("/plain", web::get().to(answer))
                .route("/items/{id}", web::get().to(answer)),
        )
        .await;
        for _ in 0..2 {
            for (path, template) in [
                ("/plain", "/plain"),
                ("/items/7", "/items/{id}"),
                ("/items/8", "/items/{id}"),
            ] {
                let request = actix_test::TestRequest::get().uri(path).to_request();
                let body = actix_test::call_and_read_body(&app, request).await;
                assert_eq!(body, template.as_bytes(), "{path}");
            }
        }
        let known = templates.0.read().unwrap().clone();
        assert!(known.contains("/plain"));
        assert!(!known.iter().any(|p| p.starts_with("/items")), "{known:?}");
    }

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
