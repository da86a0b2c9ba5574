//! What the pages load from this server (the stylesheet, the console's
//! script, the demo logo) and the home page at `/`.

use super::render::render;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use askama::Template;

pub const STYLESHEET: &str = include_str!("../../assets/enlist.css");

/// `GET /`: what this server is, and where its API is described.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub version: &'static str,
}

pub async fn home() -> HttpResponse {
    render(
        StatusCode::OK,
        &HomePage {
            version: env!("CARGO_PKG_VERSION"),
        },
        &[],
    )
}

/// `GET /assets/enlist.css`
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

pub const CONSOLE_SCRIPT: &str = include_str!("../../assets/console.js");

/// `GET /assets/console.js`: the admin console's progressive enhancements.
pub async fn console_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CONSOLE_SCRIPT)
}

pub const PASSKEYS_SCRIPT: &str = include_str!("../../assets/passkeys.js");

/// `GET /assets/passkeys.js`: the passkey buttons of the sign-in forms and
/// the account page (docs/passkeys.md).
pub async fn passkeys_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(PASSKEYS_SCRIPT)
}

/// The logo `enlist demo` gives its organization.
pub async fn demo_logo() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../assets/demo-logo.svg"))
}

/// The home page and the files pages load.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    use crate::http::routes::{self, Endpoint};
    routes::register(
        cfg,
        [
            Endpoint::at("/").get(home),
            Endpoint::at("/assets/enlist.css").get(stylesheet),
            Endpoint::at("/assets/console.js").get(console_script),
            Endpoint::at("/assets/passkeys.js").get(passkeys_script),
            Endpoint::at("/assets/demo-logo.svg").get(demo_logo),
        ],
    );
}
