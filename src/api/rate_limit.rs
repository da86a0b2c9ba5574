//! Admin requests are limited per API key: `limits.admin_per_minute` per
//! fixed one-minute window (0 turns it off), counted in memory only. A
//! request counts against its key only once the key authenticated; a
//! request whose key is refused (unknown, wrong secret, revoked) counts
//! against the client address instead, in a bucket with the same budget,
//! so a forged key carrying someone's real public id cannot use up their
//! quota. Every admin answer carries the IETF httpapi ratelimit-headers
//! draft's `RateLimit-Policy` and `RateLimit` (of the bucket the request
//! was counted in); over the limit, 429 problem details with `Retry-After`.

use crate::api::extract::api_key::KeyOutcome;
use crate::http::client_address::client_address;
use crate::http::problem::ApiError;
use crate::services::error_code::ErrorCode;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

pub use crate::auth::throttle::{AdminRateLimiter, Decision};

/// The key's public id (`enl_<id>_<secret>`): its bucket is named without
/// a lookup and without keeping the secret in memory.
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
        .map(|v| v.trim().to_owned());
    let (Some(state), Some(presented)) = (state, presented) else {
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
    let key_bucket = format!("key:{}", public_id(&presented));
    let address_bucket = format!("address:{}", client_address(req.request(), &state));
    // Only the key's holder can present text that authenticated before.
    let known = state.authenticated_keys.contains(&presented);
    let bucket = if known { &key_bucket } else { &address_bucket };
    let limiter = &state.admin_limiter;
    let started = state.clock.now();
    let decision = limiter.check(bucket, quota, started);
    if !decision.allowed {
        let detail = if known {
            format!(
                "this API key made {quota} requests this minute (limits.admin_per_minute); retry in {} s",
                decision.reset_secs
            )
        } else {
            format!(
                "this client address made {quota} requests this minute with API keys not known to be valid (limits.admin_per_minute); retry in {} s",
                decision.reset_secs
            )
        };
        let error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            detail,
        );
        let mut response = req.error_response(error).map_into_boxed_body();
        if let Ok(value) = HeaderValue::from_str(&decision.reset_secs.to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        add_headers(&mut response, quota, decision);
        return Ok(response);
    }
    let outcome = KeyOutcome::default();
    req.extensions_mut().insert(outcome.clone());
    let mut response = next.call(req).await?.map_into_boxed_body();
    // Whose request it was is known only now: move it to that bucket.
    let decision = match (known, outcome.get()) {
        (false, Some(true)) => {
            state.authenticated_keys.insert(&presented);
            limiter.refund(&address_bucket, started);
            limiter.charge(&key_bucket, quota, state.clock.now())
        }
        (true, Some(false)) => {
            state.authenticated_keys.remove(&presented);
            limiter.refund(&key_bucket, started);
            limiter.charge(&address_bucket, quota, state.clock.now())
        }
        _ => decision,
    };
    add_headers(&mut response, quota, decision);
    Ok(response)
}

fn add_headers(response: &mut ServiceResponse<BoxBody>, quota: u32, decision: Decision) {
    let policy = format!("\"default\";q={quota};w=60");
    let current = format!(
        "\"default\";r={};t={}",
        decision.remaining, decision.reset_secs
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(HeaderName::from_static("ratelimit-policy"), value);
    }
    if let Ok(value) = HeaderValue::from_str(&current) {
        headers.insert(HeaderName::from_static("ratelimit"), value);
    }
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

    #[test]
    fn a_request_moves_to_the_bucket_it_turned_out_to_belong_to() {
        let limiter = AdminRateLimiter::default();
        let now = Millis(600_000);
        assert!(limiter.check("address", 2, now).allowed);
        limiter.refund("address", now);
        let charged = limiter.charge("key", 2, now);
        assert_eq!((charged.allowed, charged.remaining), (true, 1));
        assert_eq!(limiter.check("address", 2, now).remaining, 1);
        // A charge counts past the limit, so the next request is refused.
        limiter.charge("key", 2, now);
        limiter.charge("key", 2, now);
        assert!(!limiter.check("key", 2, now).allowed);
        // A refund for a window that has passed takes nothing from the next.
        let later = Millis(now.0 + 60_000);
        assert!(limiter.check("key", 2, later).allowed);
        limiter.refund("key", now);
        assert_eq!(limiter.check("key", 2, later).remaining, 0);
    }
}
