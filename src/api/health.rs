//! Liveness, readiness (the database answers) and the Prometheus metrics.

use crate::http::metrics::Metrics;
use crate::http::problem::ApiError;
use crate::services;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use std::time::Duration;

/// The answer of `/healthz` and `/readyz`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
pub struct Health {
    /// `ok` from `/healthz`, `ready` from `/readyz`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// How long the database may take to answer a readiness probe.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is up and answering.
#[utoipa::path(
    get, path = "/healthz", operation_id = "health", tag = "Operations",
    responses((status = 200, description = "The process is up", body = Health, example = json!({"status": "ok"})))
)]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// `GET /readyz`: the database answers a query within a bound.
#[utoipa::path(
    get, path = "/readyz", operation_id = "ready", tag = "Operations",
    responses(
        (status = 200, description = "The database answers", body = Health, example = json!({"status": "ready"})),
        (status = 503, response = crate::api::openapi::Unavailable)
    )
)]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let probe = state.db.read(|conn| services::operations::probe(conn));
    match tokio::time::timeout(READY_WITHIN, probe).await {
        Ok(Ok(_)) => Ok(HttpResponse::Ok().json(Health { status: "ready" })),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness probe failed");
            Err(ApiError::unavailable("the database is not answering", 1))
        }
        Err(_) => Err(ApiError::unavailable(
            "the database did not answer in time",
            1,
        )),
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "Operations",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 500, response = crate::api::openapi::InternalError)
    )
)]
pub async fn metrics(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let password_operations = state.accounts.password_work();
    let sign_ins = state.accounts.sign_ins().snapshot();
    let text = web::block(move || {
        // A busy database must not take the metrics down with it: when no
        // connection frees up, the backlog keeps its last value.
        let backlog = db
            .read_blocking(|conn| services::operations::outbox_backlog(conn))
            .inspect_err(|error| tracing::warn!(%error, "metrics: outbox backlog not read"))
            .ok();
        metrics.render(db.pool_stats(), backlog, password_operations, &sign_ins)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
