use crate::api::dto::OrganizationBody;
use crate::api::problem::ApiError;
use crate::auth::api_key::AdminCaller;
use crate::domain::Scope;
use crate::services;
use crate::startup::AppState;
use actix_web::web;

/// `GET /v1/organization`
pub async fn get(
    caller: AdminCaller,
    state: web::Data<AppState>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    caller.require(Scope::OrganizationRead)?;
    let org_id = caller.org_id();
    let org = state
        .db
        .read(move |conn| services::orgs::get(conn, org_id))
        .await?;
    Ok(web::Json(org.into()))
}
