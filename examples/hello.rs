//! The ceiling the benchmark compares enlist with: a minimal actix-web JSON
//! endpoint, built from the same dependency versions and release profile.
//!
//! `cargo run --release --example hello -- 127.0.0.1:8090 [WORKERS]`, then
//! `GET /hello` answers `{"message":"hello"}`; `GET /hello-blocking` the
//! same from the blocking thread pool (one hop, as every database call). WORKERS 0 (or absent): one
//! per core, as actix-web's default.

use actix_web::{App, HttpServer, web};
use serde::Serialize;

#[derive(Serialize)]
struct Hello {
    message: &'static str,
}

async fn hello() -> web::Json<Hello> {
    web::Json(Hello { message: "hello" })
}

/// The same answer made on the blocking thread pool, as enlist runs every
/// SQLite call: the ceiling of an endpoint that touches the database once.
async fn hello_blocking() -> actix_web::Result<web::Json<Hello>> {
    let hello = web::block(|| Hello { message: "hello" }).await?;
    Ok(web::Json(hello))
}

async fn ready() -> &'static str {
    "ready"
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let workers: usize = std::env::args()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let mut server = HttpServer::new(|| {
        App::new()
            .route("/hello", web::get().to(hello))
            .route("/hello-blocking", web::get().to(hello_blocking))
            .route("/readyz", web::get().to(ready))
    });
    if workers > 0 {
        server = server.workers(workers);
    }
    server.bind(bind)?.run().await
}
