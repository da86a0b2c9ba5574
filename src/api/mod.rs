//! The HTTP surface: routes, extractor settings and error shapes.

pub mod account_pages;
pub mod admin;
pub mod body_deadline;
pub mod client_address;
pub mod console;
pub mod dto;
pub mod edge;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod invite_page;
pub mod invitee;
pub mod join_page;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod problem;
pub mod rate_limit;
pub mod request_log;
pub mod sign_in;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, Route, web};
use problem::ApiError;

/// Registers every route. `json_limit` is the largest JSON body accepted;
/// `metrics` says whether `/metrics` is served here.
pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize, metrics: bool) {
    if metrics {
        cfg.service(metrics_resource());
    }
    cfg.app_data(json_config(json_limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::bad_request("path", e.to_string()).into()),
        )
        .service(
            web::resource("/")
                .route(web::get().to(pages::home))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/healthz")
                .route(web::get().to(health::live))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/docs")
                .route(web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                        .finish()
                }))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/readyz")
                .route(web::get().to(health::ready))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/assets/demo-logo.svg")
                .route(web::get().to(pages::demo_logo))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/assets/console.js")
                .route(web::get().to(pages::console_script))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/admin")
                .route(web::get().to(console::front::show))
                .route(web::post().to(console::front::sign_in))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/admin/sign-out")
                .route(web::post().to(console::front::sign_out))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}")
                .route(web::get().to(console::overview::show))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/admin/orgs/{org}/invitations")
                .route(web::get().to(console::invitations::list))
                .route(web::post().to(console::invitations::create))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/invitations/new")
                .route(web::get().to(console::invitations::new))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/admin/orgs/{org}/invitations/{id}/revoke")
                .route(web::post().to(console::invitations::revoke))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/invitations/{id}/resend")
                .route(web::post().to(console::invitations::resend))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/members")
                .route(web::get().to(console::members::list))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/admin/orgs/{org}/members/{user}/remove")
                .route(web::post().to(console::members::remove))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/members/{user}/role")
                .route(web::post().to(console::members::set_role))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/api-keys")
                .route(web::get().to(console::keys::list))
                .route(web::post().to(console::keys::create))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/api-keys/new")
                .route(web::get().to(console::keys::new))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/admin/orgs/{org}/api-keys/{id}/revoke")
                .route(web::post().to(console::keys::revoke))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/join-links")
                .route(web::get().to(console::join_links::list))
                .route(web::post().to(console::join_links::create))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/join-links/new")
                .route(web::get().to(console::join_links::new))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/admin/orgs/{org}/join-links/{id}/revoke")
                .route(web::post().to(console::join_links::revoke))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/webhooks")
                .route(web::get().to(console::webhooks::list))
                .route(web::post().to(console::webhooks::create))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/webhooks/new")
                .route(web::get().to(console::webhooks::new))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/admin/orgs/{org}/webhooks/{id}/{action}")
                .route(web::post().to(console::webhooks::act))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/admin/orgs/{org}/activity")
                .route(web::get().to(console::activity::show))
                .default_service(allow("GET")),
        )
        .service(web::resource("/admin/{rest:.*}").to(console::not_found))
        .service(
            web::resource("/assets/enlist.css")
                .route(web::get().to(pages::stylesheet))
                .default_service(allow("GET")),
        )
        .service(
            web::resource(oauth::metadata::JWKS_PATH)
                .route(web::get().to(oauth::metadata::jwks))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/.well-known/oauth-authorization-server")
                .route(web::get().to(oauth::metadata::authorization_server))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/oauth/authorize")
                .route(web::get().to(oauth::authorize::show))
                .route(web::post().to(oauth::authorize::submit))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/oauth/token")
                .route(web::post().to(oauth::token::token))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/oauth/revoke")
                .route(web::post().to(oauth::token::revoke))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/invite/{uuid}")
                .route(web::get().to(invite_page::show))
                .route(web::post().to(invite_page::sign_in))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/invite/{uuid}/respond")
                .route(web::post().to(invite_page::respond))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/invite/{uuid}/sign-out")
                .route(web::post().to(invite_page::sign_out))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/join/{token}")
                .route(web::get().to(join_page::show))
                .route(web::post().to(join_page::sign_in))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/join/{token}/accept")
                .route(web::post().to(join_page::accept))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/verify/{token}")
                .route(web::get().to(account_pages::show_verification))
                .route(web::post().to(account_pages::verify))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/reset")
                .route(web::get().to(account_pages::show_reset_request))
                .route(web::post().to(account_pages::request_reset))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/reset/{token}")
                .route(web::get().to(account_pages::show_reset))
                .route(web::post().to(account_pages::reset))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/invitations")
                .route(web::get().to(invitee::list))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/invitations/{invitation_id}")
                .route(web::get().to(invitee::get))
                .route(web::post().to(invitee::respond))
                .default_service(allow("GET, POST")),
        )
        .service(
            web::resource("/organizations")
                .route(web::get().to(invitee::memberships))
                .default_service(allow("GET")),
        )
        .service(
            web::resource("/organizations/{organization_id}/membership")
                .route(web::delete().to(invitee::leave))
                .default_service(allow("DELETE")),
        )
        .service(
            web::scope("/v1")
                .wrap(from_fn(idempotency::idempotent))
                .wrap(from_fn(extract::api_key::authenticate))
                .wrap(from_fn(rate_limit::limit))
                .service(
                    web::resource("/organization")
                        .route(web::get().to(admin::organization::get))
                        .default_service(allow("GET")),
                )
                .service(
                    web::resource("/organization/invitations")
                        .route(web::get().to(admin::invitations::list))
                        .route(web::post().to(admin::invitations::create))
                        .default_service(allow("GET, POST")),
                )
                .service(
                    web::resource("/organization/invitations/bulk")
                        .route(web::post().to(admin::invitations::bulk))
                        .default_service(allow("POST")),
                )
                .service(
                    web::resource("/organization/invitations/{id}")
                        .route(web::get().to(admin::invitations::get))
                        .default_service(allow("GET")),
                )
                .service(
                    web::resource("/organization/invitations/{id}/revoke")
                        .route(web::post().to(admin::invitations::revoke))
                        .default_service(allow("POST")),
                )
                .service(
                    web::resource("/organization/invitations/{id}/resend")
                        .route(web::post().to(admin::invitations::resend))
                        .default_service(allow("POST")),
                )
                .service(
                    web::resource("/organization/join-links")
                        .route(web::get().to(admin::join_links::list))
                        .route(web::post().to(admin::join_links::create))
                        .default_service(allow("GET, POST")),
                )
                .service(
                    web::resource("/organization/join-links/{id}/revoke")
                        .route(web::post().to(admin::join_links::revoke))
                        .default_service(allow("POST")),
                )
                .service(
                    web::resource("/organization/events")
                        .route(web::get().to(admin::events::list))
                        .default_service(allow("GET")),
                )
                .service(
                    web::resource("/organization/webhooks")
                        .route(web::get().to(admin::webhooks::list))
                        .route(web::post().to(admin::webhooks::create))
                        .default_service(allow("GET, POST")),
                )
                .service(
                    web::resource("/organization/webhooks/{id}")
                        .route(web::get().to(admin::webhooks::get))
                        .route(web::patch().to(admin::webhooks::update))
                        .route(web::delete().to(admin::webhooks::delete))
                        .default_service(allow("GET, PATCH, DELETE")),
                )
                .service(
                    web::resource("/organization/webhooks/{id}/rotate-secret")
                        .route(web::post().to(admin::webhooks::rotate_secret))
                        .default_service(allow("POST")),
                )
                .service(
                    web::resource("/organization/webhooks/{id}/test")
                        .route(web::post().to(admin::webhooks::test))
                        .default_service(allow("POST")),
                )
                .service(
                    web::resource("/organization/webhooks/{id}/deliveries")
                        .route(web::get().to(admin::webhooks::deliveries))
                        .default_service(allow("GET")),
                )
                .service(
                    web::resource("/organization/users")
                        .route(web::get().to(admin::users::list))
                        .default_service(allow("GET")),
                )
                .service(
                    web::resource("/organization/users/{id}")
                        .route(web::delete().to(admin::users::remove))
                        .route(web::patch().to(admin::users::update))
                        .default_service(allow("DELETE, PATCH")),
                )
                .default_service(web::to(not_found)),
        )
        .default_service(web::to(not_found));
}

/// `/metrics`, on the main server or on its own address.
pub fn metrics_resource() -> actix_web::Resource {
    web::resource("/metrics")
        .route(web::get().to(health::metrics))
        .default_service(allow("GET"))
}

/// The fallback of a resource: other methods answer 405 with an `Allow`
/// header, in the same problem-details shape as every other error.
fn allow(methods: &'static str) -> Route {
    web::to(move || async move { Err::<HttpResponse, _>(ApiError::method_not_allowed(methods)) })
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
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
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the JSON body is larger than {limit} bytes"),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::bad_request("body", e.to_string())
        }
        JsonPayloadError::Deserialize(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body could not be read",
        ),
    }
}

fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("query", format!("the query string is malformed: {error}")).into()
}
