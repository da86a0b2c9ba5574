//! The OpenAPI 3.1 description, generated from the handlers' `#[utoipa::path]`
//! annotations and the request/response types, served at `/openapi.json`
//! with an interactive reference (Swagger UI, embedded) at `/docs/`.

use crate::api::{admin, health, invite_page, invitee, join_page, oauth};
use crate::services::oauth::SCOPE;
use serde::Serialize;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, AuthorizationCode, ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::server::Server;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// An RFC 9457 problem details body, as every error outside `/oauth` answers.
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// `urn:enlist:problem:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:enlist:problem:validation_failed")]
    pub kind: String,
    /// The HTTP status phrase.
    #[schema(example = "Bad Request")]
    pub title: String,
    #[schema(example = 400)]
    pub status: u16,
    /// What went wrong, for people.
    #[schema(example = "limit must be between 1 and 1000, got 0")]
    pub detail: String,
    /// A stable, machine-readable name for the problem.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// The request input at fault, for validation problems.
    #[schema(example = "limit")]
    pub field: Option<String>,
}

/// An RFC 6749 section 5.2 error body, as `/oauth/token` and `/oauth/revoke` answer.
#[derive(Serialize, ToSchema)]
#[schema(as = OAuthError)]
pub struct OAuthErrorDoc {
    #[schema(example = "invalid_grant")]
    pub error: String,
    pub error_description: String,
}

/// The answer of `/healthz` and `/readyz`.
#[derive(Serialize, ToSchema)]
#[schema(as = Health)]
pub struct HealthDoc {
    /// `ok` from `/healthz`, `ready` from `/readyz`.
    #[schema(example = "ok")]
    pub status: String,
}

/// RFC 8414 authorization server metadata.
#[derive(Serialize, ToSchema)]
#[schema(as = AuthorizationServerMetadata)]
pub struct AuthorizationServerMetadataDoc {
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
    pub response_types_supported: Vec<String>,
    #[schema(example = json!(["authorization_code", "refresh_token", "client_credentials"]))]
    pub grant_types_supported: Vec<String>,
    #[schema(example = json!(["S256"]))]
    pub code_challenge_methods_supported: Vec<String>,
    #[schema(example = json!(["client_secret_basic", "client_secret_post", "none"]))]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[schema(example = json!(["client_secret_basic", "client_secret_post", "none"]))]
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    #[schema(example = json!(["invitations"]))]
    pub scopes_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

/// RFC 7517 JWK Set: the Ed25519 public keys (RFC 8037) that check access tokens.
#[derive(Serialize, ToSchema)]
#[schema(as = JwkSet)]
pub struct JwksDoc {
    pub keys: Vec<crate::auth::keys::PublicJwk>,
}

/// A member's role in an organization.
#[derive(Serialize, ToSchema)]
#[schema(as = Role)]
#[allow(clippy::upper_case_acronyms)]
pub enum RoleDoc {
    ADMIN,
    MEMBER,
}

/// An invitation's status. A pending invitation past its expiry reads as EXPIRED.
#[derive(Serialize, ToSchema)]
#[schema(as = InvitationStatus)]
#[allow(clippy::upper_case_acronyms)]
pub enum InvitationStatusDoc {
    PENDING,
    ACCEPTED,
    DECLINED,
    REVOKED,
    EXPIRED,
}

/// `expiresIn`: a duration such as `"3d"`, or a number of seconds.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = ExpiresIn)]
pub enum ExpiresInDoc {
    #[schema(example = "3d")]
    Duration(String),
    Seconds(u64),
}

/// What became of one item of a bulk invitation request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = BulkStatus)]
pub enum BulkStatusDoc {
    Created,
    Duplicate,
    Member,
    Invalid,
}

/// A join link's state at the time of reading.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JoinLinkState)]
pub enum JoinLinkStateDoc {
    Active,
    Full,
    Expired,
    Revoked,
}

/// Pagination of every admin list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The number of results to return.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
    /// The number of results to skip.
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

/// Filters of the invitation list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationFilterParams {
    /// Only invitations in this (effective) status.
    #[param(inline)]
    pub status: Option<InvitationStatusDoc>,
    /// Whether to include expired invitations in the list.
    #[param(rename = "includeExpired", default = false)]
    pub include_expired: Option<bool>,
}

/// The form of `POST /oauth/token` (RFC 6749).
#[derive(Serialize, ToSchema)]
#[schema(as = TokenRequest)]
pub struct TokenRequestDoc {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    /// With `client_secret_post` or for public clients; otherwise HTTP Basic.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The form of `POST /oauth/revoke` (RFC 7009).
#[derive(Serialize, ToSchema)]
#[schema(as = RevokeRequest)]
pub struct RevokeRequestDoc {
    pub token: String,
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "enlist",
        description = "Organization membership and invitations: the admin API (API keys with scopes) and the invitee API (OAuth2 access tokens issued by enlist itself).",
        license(name = "MIT"),
    ),
    paths(
        admin::organization::get,
        admin::invitations::list,
        admin::invitations::create,
        admin::invitations::get,
        admin::invitations::bulk,
        admin::invitations::revoke,
        admin::invitations::resend,
        admin::join_links::create,
        admin::join_links::list,
        admin::join_links::revoke,
        admin::users::list,
        admin::users::remove,
        admin::users::update,
        invitee::list,
        invitee::get,
        invitee::respond,
        invitee::memberships,
        invitee::leave,
        oauth::token::token,
        oauth::token::revoke,
        oauth::metadata::authorization_server,
        oauth::metadata::jwks,
        oauth::authorize::show,
        invite_page::show,
        join_page::show,
        health::live,
        health::ready,
        health::metrics,
    ),
    components(schemas(ProblemDoc, OAuthErrorDoc, TokenRequestDoc, RevokeRequestDoc)),
    tags(
        (name = "Organization", description = "The API key's organization"),
        (name = "Invitations", description = "Manage organization invitations"),
        (name = "Users", description = "Manage organization members"),
        (name = "Join links", description = "Links many people can use to join"),
        (name = "Invitee", description = "The signed-in person's own invitations"),
        (name = "OAuth2", description = "The built-in authorization server"),
        (name = "Pages", description = "HTML pages for people"),
        (name = "Operations", description = "Health and metrics"),
    ),
)]
struct ApiDoc;

/// The document for a server reached at `public_url`: its server entry and
/// the OAuth2 flows' URLs are absolute.
pub fn document(public_url: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new(public_url)]);
    let scopes = || Scopes::from_iter([(SCOPE, "Read and answer your own invitations")]);
    let token_url = format!("{public_url}/oauth/token");
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An organization API key (`enlist api-key create`). Each operation names the scope it needs.",
        ))),
    );
    components.add_security_scheme(
        "oauth2",
        SecurityScheme::OAuth2(OAuth2::with_description(
            [
                Flow::AuthorizationCode(AuthorizationCode::with_refresh_url(
                    format!("{public_url}/oauth/authorize"),
                    token_url.clone(),
                    scopes(),
                    token_url.clone(),
                )),
                Flow::ClientCredentials(ClientCredentials::new(token_url, scopes())),
            ],
            "Access tokens issued by enlist. Public clients use PKCE (S256).",
        )),
    );
    doc
}

/// Reused in every operation that can fail with problem details.
pub const PROBLEM: &str = "application/problem+json";
