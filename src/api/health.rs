use actix_web::HttpResponse;

/// `GET /healthz`: the process is up and answering.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}
