//! `/v1/organization/webhooks`: endpoints that receive the organization's
//! events, signed (Standard Webhooks).

use crate::api::dto::{
    CreateWebhookRequest, IdBody, PageQuery, UpdateWebhookRequest, WebhookAttemptPage, WebhookBody,
    WebhookPage, WebhookTestBody, WebhookWithSecretBody,
};
use crate::api::extract::api_key::{AdminCaller, PresentedKey};
use crate::api::idempotency::secret_once;
use crate::api::params;
use crate::domain::Scope;
use crate::domain::event::EventType;
use crate::http::problem::ApiError;
use crate::services;
use crate::services::webhooks::{EndpointPatch, NewEndpoint};
use crate::state::AppState;
use actix_web::{HttpResponse, web};

fn event_types(raw: &[String]) -> Result<Vec<EventType>, ApiError> {
    Ok(services::webhooks::event_types(raw)?)
}

fn description(raw: &str) -> Result<String, ApiError> {
    Ok(services::webhooks::description(raw)?)
}

async fn vetted_url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    crate::webhooks::vet_url(&state.webhook_policy, raw)
        .await
        .map_err(|why| ApiError::bad_request("url", why.to_string()))
}

/// `POST /v1/organization/webhooks`: the endpoint, with its secret once.
#[utoipa::path(
    post, path = "/v1/organization/webhooks", operation_id = "createWebhook", tag = "Webhooks",
    request_body = crate::api::dto::CreateWebhookRequest,
    security(("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The new endpoint; `secret` is shown only here and by rotate-secret: an idempotent replay answers the endpoint without `secret`, with `secretOmitted: true`", body = crate::api::dto::WebhookWithSecretBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 409, response = crate::api::openapi::Conflict)
    )
)]
pub async fn create(
    caller: AdminCaller,
    body: Result<web::Json<CreateWebhookRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    caller.require(Scope::WebhooksWrite)?;
    let body = body?.into_inner();
    let new = NewEndpoint {
        url: vetted_url(&state, &body.url).await?,
        event_types: event_types(body.events.as_deref().unwrap_or(&[]))?,
        enabled: body.enabled.unwrap_or(true),
        description: description(body.description.as_deref().unwrap_or(""))?,
    };
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let created = state
        .db
        .write(move |tx| services::webhooks::create(tx, &origin, org_id, &new, now))
        .await
        .map_err(ApiError::from)?;
    Ok(secret_once(&WebhookWithSecretBody::from(created))?)
}

/// `GET /v1/organization/webhooks`
#[utoipa::path(
    get, path = "/v1/organization/webhooks", operation_id = "listWebhooks", tag = "Webhooks",
    params(crate::api::openapi::PageParams),
    security(("api_key" = ["webhooks:read"])),
    responses(
        (status = 200, description = "The organization's endpoints, oldest first (without secrets)", body = crate::api::dto::WebhookPage),
        (status = 400, response = crate::api::openapi::BadRequest)
    )
)]
pub async fn list(
    key: PresentedKey,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookPage>, ApiError> {
    let page = query
        .map_err(ApiError::from_extractor)
        .and_then(|query| params::page(query.limit.as_deref(), query.offset.as_deref()));
    let endpoints = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::WebhooksRead)?;
            Ok::<_, ApiError>(services::webhooks::list(conn, caller.org_id(), page?)?)
        })
        .await?;
    Ok(web::Json(endpoints.into()))
}

/// `GET /v1/organization/webhooks/{id}`
#[utoipa::path(
    get, path = "/v1/organization/webhooks/{id}", operation_id = "getWebhook", tag = "Webhooks",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the endpoint")),
    security(("api_key" = ["webhooks:read"])),
    responses(
        (status = 200, description = "The endpoint (without its secret)", body = crate::api::dto::WebhookBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn get(
    key: PresentedKey,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookBody>, ApiError> {
    let id = params::id(&id);
    let endpoint = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::WebhooksRead)?;
            Ok::<_, ApiError>(services::webhooks::get(conn, caller.org_id(), id?)?)
        })
        .await?;
    Ok(web::Json(endpoint.into()))
}

/// `PATCH /v1/organization/webhooks/{id}`
#[utoipa::path(
    patch, path = "/v1/organization/webhooks/{id}", operation_id = "updateWebhook", tag = "Webhooks",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the endpoint")),
    request_body = crate::api::dto::UpdateWebhookRequest,
    security(("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The endpoint as changed", body = crate::api::dto::WebhookBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn update(
    caller: AdminCaller,
    id: web::Path<String>,
    body: Result<web::Json<UpdateWebhookRequest>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookBody>, actix_web::Error> {
    caller.require(Scope::WebhooksWrite)?;
    let id = params::id(&id)?;
    let body = body?.into_inner();
    let url = match &body.url {
        Some(raw) => Some(vetted_url(&state, raw).await?),
        None => None,
    };
    let patch = EndpointPatch {
        url,
        event_types: body.events.as_deref().map(event_types).transpose()?,
        enabled: body.enabled,
        description: body.description.as_deref().map(description).transpose()?,
    };
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let endpoint = state
        .db
        .write(move |tx| services::webhooks::update(tx, &origin, org_id, id, patch, now))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(endpoint.into()))
}

/// `DELETE /v1/organization/webhooks/{id}`: with its queue and attempts.
#[utoipa::path(
    delete, path = "/v1/organization/webhooks/{id}", operation_id = "deleteWebhook", tag = "Webhooks",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the endpoint")),
    security(("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, description = "Deleted", body = crate::api::dto::IdBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn delete(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let id = params::id(&id)?;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let id = state
        .db
        .write(move |tx| services::webhooks::delete(tx, &origin, org_id, id, now))
        .await?;
    Ok(web::Json(IdBody { id }))
}

/// `POST /v1/organization/webhooks/{id}/rotate-secret`: a new secret; the
/// old one signs too for 24 hours.
#[utoipa::path(
    post, path = "/v1/organization/webhooks/{id}/rotate-secret", operation_id = "rotateWebhookSecret", tag = "Webhooks",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the endpoint")),
    security(("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The endpoint with its new secret, shown only here (an idempotent replay answers it without `secret`, with `secretOmitted: true`); deliveries carry a signature by each secret for 24 hours", body = crate::api::dto::WebhookWithSecretBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn rotate_secret(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let id = params::id(&id)?;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let rotated = state
        .db
        .write(move |tx| services::webhooks::rotate_secret(tx, &origin, org_id, id, now))
        .await?;
    secret_once(&WebhookWithSecretBody::from(rotated))
}

/// `POST /v1/organization/webhooks/{id}/test`: queues a `webhook.test`
/// event for this endpoint alone.
#[utoipa::path(
    post, path = "/v1/organization/webhooks/{id}/test", operation_id = "testWebhook", tag = "Webhooks",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the endpoint")),
    security(("api_key" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Queued; its attempts appear under deliveries", body = crate::api::dto::WebhookTestBody),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound),
        (status = 409, response = crate::api::openapi::Conflict)
    )
)]
pub async fn test(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let id = params::id(&id)?;
    let (origin, org_id, now) = (caller.origin(), caller.org_id(), state.clock.now());
    let event_id = state
        .db
        .write(move |tx| services::webhooks::send_test(tx, &origin, org_id, id, now))
        .await?;
    Ok(HttpResponse::Accepted().json(WebhookTestBody { event_id }))
}

/// `GET /v1/organization/webhooks/{id}/deliveries`: recent attempts.
#[utoipa::path(
    get, path = "/v1/organization/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries", tag = "Webhooks",
    params(("id" = i64, Path, minimum = 1, description = "The ID of the endpoint"), crate::api::openapi::PageParams),
    security(("api_key" = ["webhooks:read"])),
    responses(
        (status = 200, description = "The endpoint's attempts, newest first (the 1,000 most recent at most)", body = crate::api::dto::WebhookAttemptPage),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 404, response = crate::api::openapi::NotFound)
    )
)]
pub async fn deliveries(
    key: PresentedKey,
    id: web::Path<String>,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookAttemptPage>, ApiError> {
    let request = params::id(&id).and_then(|id| {
        let query = query.map_err(ApiError::from_extractor)?;
        Ok((
            id,
            params::page(query.limit.as_deref(), query.offset.as_deref())?,
        ))
    });
    let attempts = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::WebhooksRead)?;
            let (id, page) = request?;
            Ok::<_, ApiError>(services::webhooks::attempts(
                conn,
                caller.org_id(),
                id,
                page,
            )?)
        })
        .await?;
    Ok(web::Json(attempts.into()))
}
