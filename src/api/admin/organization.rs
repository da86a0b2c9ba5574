//! Thin handler for `GET /v1/organization`: the API key's organization.

use crate::api::dto::OrganizationBody;
use crate::api::extract::api_key::PresentedKey;
use crate::domain::Scope;
use crate::http::problem::ApiError;
use crate::services;
use crate::state::AppState;
use actix_web::web;

/// `GET /v1/organization`
#[utoipa::path(
    get, path = "/v1/organization", operation_id = "getOrganization", tag = "Organization",
    security(("api_key" = ["organization:read"])),
    responses(
        (status = 200, description = "The API key's organization", body = crate::api::dto::OrganizationBody)
    )
)]
pub async fn get(
    key: PresentedKey,
    state: web::Data<AppState>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    let org = state
        .db
        .read(move |conn| {
            let caller = key.verify(conn)?;
            caller.require(Scope::OrganizationRead)?;
            Ok::<_, ApiError>(services::orgs::get(conn, caller.org_id())?)
        })
        .await?;
    Ok(web::Json(org.into()))
}
