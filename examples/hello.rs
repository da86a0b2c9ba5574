//! The ceiling the benchmark compares enlist with: a minimal actix-web JSON
//! endpoint, built from the same dependency versions and release profile.
//!
//! `cargo run --release --example hello -- 127.0.0.1:8090`, then
//! `GET /hello` answers `{"message":"hello"}`.

use actix_web::{App, HttpServer, web};
use serde::Serialize;

#[derive(Serialize)]
struct Hello {
    message: &'static str,
}

async fn hello() -> web::Json<Hello> {
    web::Json(Hello { message: "hello" })
}

async fn ready() -> &'static str {
    "ready"
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    HttpServer::new(|| {
        App::new()
            .route("/hello", web::get().to(hello))
            .route("/readyz", web::get().to(ready))
    })
    .bind(bind)?
    .run()
    .await
}
