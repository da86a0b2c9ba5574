//! Admin requests are limited per API key: `limits.admin_per_minute` per
//! fixed one-minute window (0 turns it off), counted in memory only. Every
//! admin answer carries the IETF httpapi ratelimit-headers draft's
//! `RateLimit-Policy` and `RateLimit`; over the limit, 429 problem details
//! with `Retry-After`.

use crate::api::problem::ApiError;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::web;

pub use crate::auth::throttle::{AdminRateLimiter, Decision};

/// The key's public id (`enl_<id>_<secret>`): counted without a lookup and
/// without keeping the secret in memory.
fn public_id(presented: &str) -> &str {
    presented
        .rsplit_once('_')
        .map_or(presented, |(public, _)| public)
}

pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let presented = req
        .headers()
        .get(crate::api::extract::api_key::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| public_id(v.trim()).to_owned());
    let (Some(state), Some(key)) = (state, presented) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let quota = state.settings.limits.admin_per_minute;
    if quota == 0 {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let decision = state.admin_limiter.check(&key, quota, state.clock.now());
    let policy = format!("\"default\";q={quota};w=60");
    let current = format!(
        "\"default\";r={};t={}",
        decision.remaining, decision.reset_secs
    );
    let mut response = if decision.allowed {
        next.call(req).await?.map_into_boxed_body()
    } else {
        let error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "this API key made {quota} requests this minute (limits.admin_per_minute); retry in {} s",
                decision.reset_secs
            ),
        );
        let mut response = req.error_response(error).map_into_boxed_body();
        if let Ok(value) = HeaderValue::from_str(&decision.reset_secs.to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(HeaderName::from_static("ratelimit-policy"), value);
    }
    if let Ok(value) = HeaderValue::from_str(&current) {
        headers.insert(HeaderName::from_static("ratelimit"), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Millis;

    #[test]
    fn counts_per_key_and_window() {
        let limiter = AdminRateLimiter::default();
        let now = Millis(120_000 + 18_000);
        for n in 0..3 {
            let d = limiter.check("a", 3, now);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - n);
            assert_eq!(d.reset_secs, 42);
        }
        assert!(!limiter.check("a", 3, now).allowed);
        assert!(limiter.check("b", 3, now).allowed);
        assert!(limiter.check("a", 3, Millis(180_000)).allowed);
    }
}
