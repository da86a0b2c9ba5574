//! What OAuth2 clients discover: the RFC 8414 authorization server metadata
//! and the JWK Set of the keys that sign access tokens.

use crate::auth::keys::PublicJwk;
use crate::http::problem::ApiError;
use crate::services::oauth::SCOPE;
use crate::services::signing_keys;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

/// Where the public keys that check access tokens are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// RFC 8414 authorization server metadata.
#[derive(Serialize, ToSchema)]
pub struct AuthorizationServerMetadata {
    /// The server's public URL.
    #[schema(format = "uri")]
    pub issuer: String,
    #[schema(format = "uri")]
    pub authorization_endpoint: String,
    #[schema(format = "uri")]
    pub token_endpoint: String,
    #[schema(format = "uri")]
    pub revocation_endpoint: String,
    /// The JWK Set of the keys access tokens are signed with.
    #[schema(format = "uri")]
    pub jwks_uri: String,
    #[schema(example = json!(["code"]))]
    pub response_types_supported: [&'static str; 1],
    #[schema(example = json!(["authorization_code", "refresh_token", "client_credentials"]))]
    pub grant_types_supported: [&'static str; 3],
    #[schema(example = json!(["S256"]))]
    pub code_challenge_methods_supported: [&'static str; 1],
    #[schema(example = json!(["client_secret_basic", "client_secret_post", "none"]))]
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    #[schema(example = json!(["client_secret_basic", "client_secret_post", "none"]))]
    pub revocation_endpoint_auth_methods_supported: [&'static str; 3],
    #[schema(example = json!(["invitations"]))]
    pub scopes_supported: [&'static str; 1],
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

/// RFC 7517 JWK Set: the Ed25519 public keys (RFC 8037) that check access tokens.
#[derive(Serialize, ToSchema)]
#[schema(as = JwkSet)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414), so standard
/// OAuth2 client libraries configure themselves.
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", operation_id = "authorizationServerMetadata", tag = "OAuth2",
    responses((status = 200, description = "RFC 8414 authorization server metadata", body = AuthorizationServerMetadata))
)]
pub async fn authorization_server(
    state: web::Data<AppState>,
) -> web::Json<AuthorizationServerMetadata> {
    let base = &state.public_url;
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    web::Json(AuthorizationServerMetadata {
        issuer: base.clone(),
        authorization_endpoint: format!("{base}/oauth/authorize"),
        token_endpoint: format!("{base}/oauth/token"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        jwks_uri: format!("{base}{JWKS_PATH}"),
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: auth_methods,
        revocation_endpoint_auth_methods_supported: auth_methods,
        scopes_supported: [SCOPE],
        authorization_response_iss_parameter_supported: true,
    })
}

/// `GET /.well-known/jwks.json` (RFC 7517): the public keys access tokens
/// are signed with, by `kid`: the signing key, and retired keys until every
/// token they signed has expired.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", operation_id = "jwks", tag = "OAuth2",
    responses(
        (status = 200, description = "RFC 7517 JWK Set", body = JwkSet),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable)
    )
)]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let retention = signing_keys::retention(state.settings.auth.access_token_lifetime.0);
    let now = state.clock.now();
    let keys = state
        .db
        .read(move |conn| signing_keys::jwks(conn, retention, now))
        .await?;
    Ok(HttpResponse::Ok()
        // Short, so a verifier sees a rotated key soon; it may also refetch on an unknown kid.
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(JwkSet { keys }))
}
