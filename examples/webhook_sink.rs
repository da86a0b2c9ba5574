//! A webhook receiver for the delivery benchmark (bench/webhooks.sh): answers
//! every POST 204 at once and counts them; `GET /count` answers the count.
//!
//! `cargo run --release --example webhook_sink -- 127.0.0.1:18095`

use actix_web::{App, HttpResponse, HttpServer, web};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

async fn receive(count: web::Data<Arc<AtomicU64>>, _body: web::Bytes) -> HttpResponse {
    count.fetch_add(1, Ordering::Relaxed);
    HttpResponse::NoContent().finish()
}

async fn count(count: web::Data<Arc<AtomicU64>>) -> String {
    count.load(Ordering::Relaxed).to_string()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18095".into());
    let received = web::Data::new(Arc::new(AtomicU64::new(0)));
    HttpServer::new(move || {
        App::new()
            .app_data(received.clone())
            .route("/count", web::get().to(count))
            .default_service(web::post().to(receive))
    })
    .workers(1)
    .bind(bind)?
    .run()
    .await
}
