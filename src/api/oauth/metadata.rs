use crate::services::oauth::SCOPE;
use crate::startup::AppState;
use actix_web::{HttpResponse, web};

/// `GET /.well-known/oauth-authorization-server` (RFC 8414), so standard
/// OAuth2 client libraries configure themselves.
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", operation_id = "authorizationServerMetadata", tag = "OAuth2",
    responses((status = 200, description = "RFC 8414 authorization server metadata", body = crate::api::openapi::AuthorizationServerMetadataDoc))
)]
pub async fn authorization_server(state: web::Data<AppState>) -> HttpResponse {
    let base = &state.public_url;
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    HttpResponse::Ok().json(serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": [SCOPE],
        "authorization_response_iss_parameter_supported": true,
    }))
}
