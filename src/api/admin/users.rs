use crate::api::dto::{IdBody, MemberPage, PageQuery};
use crate::api::params;
use crate::api::problem::ApiError;
use crate::auth::api_key::AdminCaller;
use crate::domain::Scope;
use crate::services;
use crate::startup::AppState;
use actix_web::web;

/// `GET /v1/organization/users`
///
/// The query arrives as a `Result` so a key without the scope hears 403
/// before anything about its parameters.
pub async fn list(
    caller: AdminCaller,
    query: Result<web::Query<PageQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<web::Json<MemberPage>, actix_web::Error> {
    caller.require(Scope::UsersRead)?;
    let query = query?;
    let page = params::page(query.limit.as_deref(), query.offset.as_deref())?;
    let org_id = caller.org_id();
    let members = state
        .db
        .read(move |conn| services::members::list(conn, org_id, page))
        .await
        .map_err(ApiError::from)?;
    Ok(web::Json(members.into()))
}

/// `DELETE /v1/organization/users/{id}`
pub async fn remove(
    caller: AdminCaller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<IdBody>, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let user_id = params::id(&id)?;
    let org_id = caller.org_id();
    let id = state
        .db
        .write(move |tx| services::members::remove(tx, org_id, user_id))
        .await?;
    Ok(web::Json(IdBody { id }))
}
