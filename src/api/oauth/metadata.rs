//! What OAuth2 clients discover: the RFC 8414 authorization server metadata
//! and the JWK Set of the keys that sign access tokens.

use crate::auth::keys::PublicJwk;
use crate::domain::oidc::ScopeName;
use crate::http::problem::ApiError;
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
    /// RFC 7662 token introspection, for confidential clients.
    #[schema(format = "uri")]
    pub introspection_endpoint: String,
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
    #[schema(example = json!(["client_secret_basic", "client_secret_post"]))]
    pub introspection_endpoint_auth_methods_supported: [&'static str; 2],
    #[schema(example = json!(["openid", "email", "profile", "invitations", "organizations"]))]
    pub scopes_supported: [&'static str; 5],
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

/// OpenID Connect Discovery 1.0 provider metadata: the RFC 8414 document's
/// fields and values, and what OpenID Connect adds. Spelled out rather than
/// `#[serde(flatten)]`ed: the OpenAPI document then describes one closed
/// object, which its schema checks hold every answer to.
#[derive(Serialize, ToSchema)]
pub struct OpenIdProviderMetadata {
    #[schema(format = "uri")]
    pub issuer: String,
    #[schema(format = "uri")]
    pub authorization_endpoint: String,
    #[schema(format = "uri")]
    pub token_endpoint: String,
    #[schema(format = "uri")]
    pub revocation_endpoint: String,
    #[schema(format = "uri")]
    pub introspection_endpoint: String,
    #[schema(format = "uri")]
    pub jwks_uri: String,
    pub response_types_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 3],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    pub revocation_endpoint_auth_methods_supported: [&'static str; 3],
    pub introspection_endpoint_auth_methods_supported: [&'static str; 2],
    pub scopes_supported: [&'static str; 5],
    pub authorization_response_iss_parameter_supported: bool,
    #[schema(format = "uri")]
    pub userinfo_endpoint: String,
    /// RP-Initiated Logout 1.0.
    #[schema(format = "uri")]
    pub end_session_endpoint: String,
    #[schema(example = json!(["public"]))]
    pub subject_types_supported: [&'static str; 1],
    #[schema(example = json!(["EdDSA"]))]
    pub id_token_signing_alg_values_supported: [&'static str; 1],
    #[schema(example = json!(["none", "login", "consent", "select_account"]))]
    pub prompt_values_supported: [&'static str; 4],
    pub claims_supported: Vec<&'static str>,
    #[schema(example = json!(["query"]))]
    pub response_modes_supported: [&'static str; 1],
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
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
    web::Json(oauth_metadata(&state.public_url))
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0).
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", operation_id = "openidConfiguration", tag = "OAuth2",
    responses((status = 200, description = "OpenID Connect Discovery 1.0 provider metadata", body = OpenIdProviderMetadata))
)]
pub async fn openid_configuration(state: web::Data<AppState>) -> web::Json<OpenIdProviderMetadata> {
    let base = &state.public_url;
    // The same values as the RFC 8414 document, field for field.
    let oauth = oauth_metadata(base);
    web::Json(OpenIdProviderMetadata {
        issuer: oauth.issuer,
        authorization_endpoint: oauth.authorization_endpoint,
        token_endpoint: oauth.token_endpoint,
        revocation_endpoint: oauth.revocation_endpoint,
        introspection_endpoint: oauth.introspection_endpoint,
        jwks_uri: oauth.jwks_uri,
        response_types_supported: oauth.response_types_supported,
        grant_types_supported: oauth.grant_types_supported,
        code_challenge_methods_supported: oauth.code_challenge_methods_supported,
        token_endpoint_auth_methods_supported: oauth.token_endpoint_auth_methods_supported,
        revocation_endpoint_auth_methods_supported: oauth
            .revocation_endpoint_auth_methods_supported,
        introspection_endpoint_auth_methods_supported: oauth
            .introspection_endpoint_auth_methods_supported,
        scopes_supported: oauth.scopes_supported,
        authorization_response_iss_parameter_supported: oauth
            .authorization_response_iss_parameter_supported,
        userinfo_endpoint: format!("{base}/userinfo"),
        end_session_endpoint: format!("{base}/oauth/logout"),
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: [ALGORITHM_NAME],
        prompt_values_supported: ["none", "login", "consent", "select_account"],
        claims_supported: vec![
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "amr",
            "email",
            "email_verified",
            "name",
            "given_name",
            "family_name",
            "picture",
            "organizations",
            "organizations_truncated",
        ],
        response_modes_supported: ["query"],
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
    })
}

/// The JWS name of [`crate::auth::jwt::ALGORITHM`].
const ALGORITHM_NAME: &str = "EdDSA";

fn oauth_metadata(base: &str) -> AuthorizationServerMetadata {
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    AuthorizationServerMetadata {
        issuer: base.to_owned(),
        authorization_endpoint: format!("{base}/oauth/authorize"),
        token_endpoint: format!("{base}/oauth/token"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        introspection_endpoint: format!("{base}/oauth/introspect"),
        jwks_uri: format!("{base}{JWKS_PATH}"),
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: auth_methods,
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: [
            "client_secret_basic",
            "client_secret_post",
        ],
        scopes_supported: ScopeName::ALL.map(ScopeName::as_str),
        authorization_response_iss_parameter_supported: true,
    }
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
