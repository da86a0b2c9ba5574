//! The OpenAPI 3.1 description, generated from the handlers' `#[utoipa::path]`
//! annotations and the request/response types, served at `/openapi.json`
//! with an interactive reference (Swagger UI, embedded) at `/docs/`.

use crate::api::{admin, health, invitee, oauth};
use crate::http::problem::{INTERNAL_DETAIL, ProblemDetails};
use crate::services::oauth::SCOPE;
use crate::web::error::ErrorPage;
use crate::web::hosted::{authorize, invite as invite_page, join as join_page};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, AuthorizationCode, ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::server::Server;
use utoipa::openapi::{Content, Ref, RefOr, Required};
use utoipa::{IntoParams, OpenApi, ToResponse, ToSchema};

/// The problem details body, by the name the document gives it.
pub type Problem = ProblemDetails<'static>;

/// The media type of every problem details answer.
pub const PROBLEM: &str = "application/problem+json";

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn header(description: &str, schema: Type) -> Header {
    HeaderBuilder::new()
        .schema(Some(Object::with_type(schema)))
        .description(Some(description))
        .build()
}

fn retry_after() -> Header {
    header("Seconds to wait before trying again", Type::Integer)
}

fn with_body(description: &str, media_type: &str, schema: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(media_type, Content::new(Some(schema_ref(schema))))
}

/// Declares reusable responses, one `components/responses` entry each, so
/// an operation lists a shared failure by name instead of repeating it.
macro_rules! reusable_responses {
    ($($(#[$doc:meta])* $name:ident => $build:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                let build: ResponseBuilder = $build;
                (stringify!($name), RefOr::T(build.build()))
            }
        }
    )*};
}

reusable_responses! {
    BadRequest => with_body("Invalid parameters or body", PROBLEM, "Problem");
    Unauthorized => with_body("Missing or unknown credentials", PROBLEM, "Problem");
    ScopeMissing => with_body("The API key lacks the scope", PROBLEM, "Problem");
    EmailUnverified => with_body("The account's email is not verified (`email_unverified`)", PROBLEM, "Problem");
    NotFound => with_body("Not found in this organization", PROBLEM, "Problem");
    Conflict => with_body("Conflicts with the current state", PROBLEM, "Problem");
    IdempotencyKeyInUse => with_body(
        "A request with this Idempotency-Key is still running (`idempotency_key_in_use`)",
        PROBLEM, "Problem");
    IdempotencyKeyReused => with_body(
        "This Idempotency-Key was used for another request: method, path or body (`idempotency_key_reused`)",
        PROBLEM, "Problem");
    RateLimited => with_body(
        "This API key made `limits.admin_per_minute` requests this minute, or, for a key not known to be valid, this client address did (`rate_limited`)",
        PROBLEM, "Problem").header("Retry-After", retry_after());
    InternalError => with_body(INTERNAL_DETAIL, PROBLEM, "Problem");
    Unavailable => with_body("Busy; see Retry-After", PROBLEM, "Problem")
        .header("Retry-After", retry_after());
    OAuthBadRequest => with_body("RFC 6749 error", "application/json", "OAuthError");
    InvalidClient => with_body("invalid_client", "application/json", "OAuthError")
        .header("WWW-Authenticate", header("`Basic realm=\"enlist\"`", Type::String));
    OAuthServerError => with_body("server_error", "application/json", "OAuthError");
    OAuthUnavailable => with_body("Busy (server_error); see Retry-After", "application/json", "OAuthError")
        .header("Retry-After", retry_after());
}

pub use crate::views::{InvitationStatusDoc, JoinLinkStateDoc, RoleDoc};

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

/// Search and cursor paging of the users list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearchParams {
    /// Only the member with this address: exact, compared by the normalised
    /// key (case-insensitive). Combines with `teamId` and `q`.
    #[param(format = Email, example = "ann@example.com")]
    pub email: Option<String>,
    /// Only members whose address, full name ("first last") or last name
    /// starts with this (case-insensitive; at most 100 characters; blank
    /// searches nothing). `totalCount` then counts the matches.
    #[param(max_length = 100, example = "ann")]
    pub q: Option<String>,
    /// The `nextCursor` of the previous page: continues after its last row,
    /// with the same filters. Not with `offset` (400, `field: "after"`); a
    /// cursor that was altered or belongs to another organization, list or
    /// filters answers 400 `invalid_cursor`.
    #[param(example = "AQAAAAAAAAAAAAAAAAAAAGTq3pJ7mX0a9Vw2cKxT1e0r8Yb3Jm4hQfN6sLzP0uDc")]
    pub after: Option<String>,
}

/// Search and cursor paging of the invitation list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationSearchParams {
    /// Only invitations to this address: exact, compared by the normalised
    /// key (case-insensitive). Combines with `status`, `includeExpired` and `q`.
    #[param(format = Email, example = "ann@example.com")]
    pub email: Option<String>,
    /// Only invitations whose address starts with this (case-insensitive;
    /// at most 100 characters; blank searches nothing). `totalCount` then
    /// counts the matches.
    #[param(max_length = 100, example = "ann")]
    pub q: Option<String>,
    /// The `nextCursor` of the previous page: continues after its last row,
    /// with the same filters. Not with `offset` (400, `field: "after"`); a
    /// cursor that was altered or belongs to another organization, list or
    /// filters answers 400 `invalid_cursor`.
    #[param(example = "AQAAAZuOBxgAAAAAAAAAACmBGGdn7nC3kCq0Hy6mZ2t7bqSxe1M1v0QF2eRj1k9Jrw")]
    pub after: Option<String>,
}

/// Filters and paging of the audit log.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListParams {
    /// The number of events to return.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page: continues after its last event.
    pub after: Option<String>,
    /// Only these types: repeat the parameter or separate types with commas
    /// (`type=invitation.accepted,member.removed`).
    #[param(rename = "type", example = "invitation.accepted,member.removed")]
    pub kind: Option<Vec<String>>,
    /// Only events that occurred at or after this time (RFC 3339).
    #[param(format = DateTime, example = "2026-01-01T00:00:00Z")]
    pub since: Option<String>,
    /// Only events that occurred before this time (RFC 3339).
    #[param(format = DateTime, example = "2026-02-01T00:00:00Z")]
    pub until: Option<String>,
}

/// Who made a change: `type` and the ids that say who (`apiKeyId` and
/// `userId` for an API key, `userId` for a signed-in person, `clientId` and
/// `userId` for an OAuth client acting for a person, none for `system` and
/// `cli`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Actor)]
pub struct ActorDoc {
    #[serde(rename = "type")]
    #[schema(example = "api_key")]
    pub kind: ActorTypeDoc,
    pub api_key_id: Option<i64>,
    pub user_id: Option<i64>,
    pub client_id: Option<String>,
    /// `domain`: the verified domain that admitted or invited `userId`.
    pub domain_id: Option<i64>,
    /// `domain`: its name.
    pub domain: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ActorType)]
pub enum ActorTypeDoc {
    ApiKey,
    User,
    Client,
    System,
    Cli,
    Domain,
}

/// One event of the audit log, also the body of every webhook delivery
/// (its `id` is the delivery's `webhook-id`). `data` carries the subject's
/// state after the change: `invitation` (the shape of
/// `GET /v1/organization/invitations/{id}`), `user` (the users list's
/// shape, with `previousRole`, `invitationId` or `joinLinkId` where they
/// apply), `apiKey` or `webhook`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Event)]
pub struct EventDoc {
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    #[schema(example = "invitation.accepted")]
    pub kind: String,
    #[schema(value_type = String, format = DateTime, example = "2025-05-31T02:49:11.773Z")]
    pub occurred_at: String,
    pub organization_id: i64,
    pub actor: ActorDoc,
    /// The `X-Request-Id` of the request that made the change, if one did.
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// One page of the audit log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EventPage)]
pub struct EventPageDoc {
    pub items: Vec<EventDoc>,
    pub limit: i64,
    /// Pass as `after` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// `data` of `invitation.*` events.
#[derive(Serialize, ToSchema)]
#[schema(as = InvitationEventData)]
pub struct InvitationEventDataDoc {
    pub invitation: crate::views::InvitationDetailBody,
}

/// `data` of `member.*` events.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = MemberEventData)]
pub struct MemberEventDataDoc {
    pub user: crate::views::MemberBody,
    /// `member.role_changed`: the role before.
    #[schema(value_type = Option<RoleDoc>)]
    pub previous_role: Option<String>,
    /// `member.role_changed`: the role after (as `user.role`).
    #[schema(value_type = Option<RoleDoc>)]
    pub role: Option<String>,
    /// `member.added` by accepting this invitation.
    pub invitation_id: Option<i64>,
    /// `member.added` through this join link.
    pub join_link_id: Option<i64>,
}

/// `data` of `api_key.*` events.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKeyEventData)]
pub struct ApiKeyEventDataDoc {
    pub api_key: crate::views::ApiKeyBody,
}

/// `data` of `webhook.*` events.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookEventData)]
pub struct WebhookEventDataDoc {
    pub webhook: crate::views::WebhookBody,
}

/// `data` of `role.*` events.
#[derive(Serialize, ToSchema)]
#[schema(as = RoleEventData)]
pub struct RoleEventDataDoc {
    /// The role as created, changed, or as it was when deleted.
    pub role: crate::views::RoleBody,
    /// `role.updated`: the role before the change.
    pub previous: Option<crate::views::RoleBody>,
}

/// `data` of `team.*` events.
#[derive(Serialize, ToSchema)]
#[schema(as = TeamEventData)]
pub struct TeamEventDataDoc {
    /// The team as created, changed, or as it was when deleted; for
    /// `team.member_added` and `team.member_removed`, as it is after the change.
    pub team: crate::views::TeamBody,
    /// `team.updated`: the team before the change.
    pub previous: Option<crate::views::TeamBody>,
    /// `team.member_added`, `team.member_removed`: who, as the users list shows them.
    pub user: Option<crate::views::MemberBody>,
}

/// `data` of `organization.updated`.
#[derive(Serialize, ToSchema)]
#[schema(as = OrganizationEventData)]
pub struct OrganizationEventDataDoc {
    /// The organization after the change, as `GET /v1/organization` answers it.
    pub organization: crate::views::OrganizationBody,
    /// The request fields whose value changed: `name`, `logoUrl`, `metadata`.
    #[schema(example = json!(["name", "metadata"]))]
    pub changed: Vec<String>,
}

/// `data` of `domain.*` events.
#[derive(Serialize, ToSchema)]
#[schema(as = DomainEventData)]
pub struct DomainEventDataDoc {
    /// The domain as created, verified, unverified, or as it was when deleted.
    pub domain: crate::views::DomainBody,
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
    /// RFC 8707: an API the client is registered for (`--resource`); the
    /// access token's `aud`.
    pub resource: Option<String>,
}

/// The form of `POST /oauth/introspect` (RFC 7662).
#[derive(Serialize, ToSchema)]
#[schema(as = IntrospectRequest)]
pub struct IntrospectRequestDoc {
    pub token: String,
    pub token_type_hint: Option<String>,
    /// With `client_secret_post`; otherwise HTTP Basic.
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
        admin::organization::update,
        admin::organization::delete,
        admin::organization::export,
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
        admin::events::list,
        admin::roles::list,
        admin::roles::create,
        admin::roles::get,
        admin::roles::update,
        admin::roles::delete,
        admin::roles::check_permissions,
        admin::teams::list,
        admin::teams::create,
        admin::teams::get,
        admin::teams::update,
        admin::teams::delete,
        admin::teams::members,
        admin::teams::add_member,
        admin::teams::remove_member,
        admin::domains::list,
        admin::domains::create,
        admin::domains::get,
        admin::domains::delete,
        admin::domains::verify,
        admin::webhooks::create,
        admin::webhooks::list,
        admin::webhooks::get,
        admin::webhooks::update,
        admin::webhooks::delete,
        admin::webhooks::rotate_secret,
        admin::webhooks::test,
        admin::webhooks::deliveries,
        invitee::list,
        invitee::get,
        invitee::respond,
        invitee::memberships,
        invitee::create_organization,
        invitee::leave,
        invitee::suggested,
        oauth::token::token,
        oauth::token::revoke,
        oauth::metadata::authorization_server,
        oauth::metadata::openid_configuration,
        oauth::metadata::jwks,
        oauth::introspect::introspect,
        oauth::userinfo::userinfo,
        authorize::show,
        invite_page::show,
        join_page::show,
        health::live,
        health::ready,
        health::metrics,
    ),
    components(
        schemas(
            Problem, crate::api::oauth::OAuthErrorBody, TokenRequestDoc, RevokeRequestDoc,
            IntrospectRequestDoc,
            EventDoc, InvitationEventDataDoc, MemberEventDataDoc, ApiKeyEventDataDoc,
            WebhookEventDataDoc, RoleEventDataDoc, TeamEventDataDoc,
            OrganizationEventDataDoc,
            DomainEventDataDoc,
        ),
        responses(
            BadRequest, Unauthorized, ScopeMissing, EmailUnverified, NotFound, Conflict,
            IdempotencyKeyInUse, IdempotencyKeyReused, RateLimited, InternalError, Unavailable,
            OAuthBadRequest, InvalidClient, OAuthServerError, OAuthUnavailable, ErrorPage,
        ),
    ),
    tags(
        (name = "Organization", description = "The API key's organization"),
        (name = "Invitations", description = "Manage organization invitations"),
        (name = "Users", description = "Manage organization members"),
        (name = "Roles", description = "The organization's roles and what they permit"),
        (name = "Teams", description = "Groups of members inside the organization"),
        (name = "Domains", description = "Email domains the organization proves it controls, and what they do for people with addresses there"),
        (name = "Join links", description = "Links many people can use to join"),
        (name = "Events", description = "The audit log: every change, by whom"),
        (name = "Webhooks", description = "Endpoints that receive the organization's events, signed (Standard Webhooks)"),
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
    let scopes = || {
        Scopes::from_iter([
            (SCOPE, "Read and answer your own invitations"),
            ("openid", "An ID token and /userinfo (OpenID Connect)"),
            ("email", "The email and email_verified claims"),
            ("profile", "The name claims"),
            (
                "organizations",
                "The organizations claim: your memberships with role and permissions",
            ),
        ])
    };
    let token_url = format!("{public_url}/oauth/token");
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An organization API key (`enlist api-key create`). Each operation names the scope it needs. Every answer to a presented key carries `RateLimit-Policy` and `RateLimit` (`limits.admin_per_minute`).",
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
    describe_admin_limits_and_retries(&mut doc);
    describe_webhooks(&mut doc);
    doc
}

/// OpenAPI 3.1 `webhooks`: one entry per event type, each a `POST` of the
/// event to the endpoint's URL with the Standard Webhooks headers; a 2xx
/// answer counts as delivered.
fn describe_webhooks(doc: &mut utoipa::openapi::OpenApi) {
    use crate::domain::event::EventType;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{ContentBuilder, PathsBuilder, ResponseBuilder};
    let mut paths = PathsBuilder::new();
    for kind in EventType::ALL {
        let name = kind.as_str();
        let data = match name.split('.').next() {
            Some("invitation") => "InvitationEventData",
            Some("member") => "MemberEventData",
            Some("api_key") => "ApiKeyEventData",
            Some("role") => "RoleEventData",
            Some("team") => "TeamEventData",
            Some("organization") => "OrganizationEventData",
            _ => "WebhookEventData",
        };
        let schema = utoipa::openapi::schema::AllOfBuilder::new()
            .item(Ref::from_schema_name("Event"))
            .item(
                utoipa::openapi::ObjectBuilder::new()
                    .property(
                        "type",
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some([name])),
                    )
                    .property("data", Ref::from_schema_name(data)),
            );
        let mut operation = OperationBuilder::new()
            .operation_id(Some(format!("webhook_{}", name.replace('.', "_"))))
            .summary(Some(format!("`{name}`, delivered to each endpoint that wants it")))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", ContentBuilder::new().schema(Some(schema)).build())
                    .required(Some(Required::True))
                    .build(),
            ))
            .response(
                "2XX",
                ResponseBuilder::new().description(
                    "Delivered. Anything else (or no answer within `webhooks.timeout`) is retried with backoff, the same `webhook-id` each time",
                ),
            );
        for (header_name, description) in [
            (
                "webhook-id",
                "The event's id: the same on every retry, for deduplication",
            ),
            (
                "webhook-timestamp",
                "Seconds since the Unix epoch when this attempt was sent",
            ),
            (
                "webhook-signature",
                "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per secret that signs (two for 24 hours after a rotation), space-separated",
            ),
        ] {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(header_name)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::True)
                    .description(Some(description))
                    .schema(Some(Object::with_type(Type::String))),
            );
        }
        paths = paths.path(name, PathItem::new(HttpMethod::Post, operation.build()));
    }
    doc.webhooks = Some(paths.build());
}

const RATE_LIMIT_NOTE: &str = "or this API key (for a key not known to be valid: this client address) made `limits.admin_per_minute` requests this minute (`rate_limited`)";
const REUSED_NOTE: &str = "or this Idempotency-Key was used for another request: method, path or body (`idempotency_key_reused`)";
const BAD_KEY_NOTE: &str = "or an Idempotency-Key that is not 1 to 255 printable ASCII characters";
const IN_USE_NOTE: &str =
    "or a request with this Idempotency-Key is still running (`idempotency_key_in_use`)";

/// What every admin operation shares, written once here rather than in each
/// annotation: 401, 403, 500 and 503 (unless it says more of its own), the
/// RateLimit headers on its answers and the 429 past the limit; for writes,
/// `Idempotency-Key`, its replay header, 409 and 422.
fn describe_admin_limits_and_retries(doc: &mut utoipa::openapi::OpenApi) {
    let shared = doc
        .components
        .as_ref()
        .map(|c| c.responses.clone())
        .unwrap_or_default();
    for (_, item) in doc
        .paths
        .paths
        .iter_mut()
        .filter(|(p, _)| p.starts_with("/v1/"))
    {
        let reads = [item.get.as_mut()];
        let writes = [
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in reads.into_iter().flatten() {
            describe_admin_failures(operation);
            describe_rate_limit(operation, &shared);
        }
        for operation in writes.into_iter().flatten() {
            describe_admin_failures(operation);
            describe_rate_limit(operation, &shared);
            describe_idempotency(operation, &shared);
        }
    }
}

/// What any admin operation can answer whatever it does: no or an unknown
/// key, a key without the scope, a failure on our side, a busy database.
fn describe_admin_failures(operation: &mut Operation) {
    for (status, name) in [
        ("401", "Unauthorized"),
        ("403", "ScopeMissing"),
        ("500", "InternalError"),
        ("503", "Unavailable"),
    ] {
        operation
            .responses
            .responses
            .entry(status.into())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

fn describe_rate_limit(operation: &mut Operation, shared: &BTreeMap<String, RefOr<Response>>) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "RateLimit-Policy".into(),
                RefOr::T(header(
                    "The quota: `\"default\";q=<requests>;w=60`",
                    Type::String,
                )),
            );
            response.headers.insert(
                "RateLimit".into(),
                RefOr::T(header(
                    "What is left: `\"default\";r=<remaining>;t=<seconds until the window resets>`",
                    Type::String,
                )),
            );
        }
    }
    merge(operation, "429", "RateLimited", RATE_LIMIT_NOTE, shared);
}

fn describe_idempotency(operation: &mut Operation, shared: &BTreeMap<String, RefOr<Response>>) {
    let parameter = ParameterBuilder::new()
        .name(crate::api::idempotency::HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes the request safe to retry: the first answer is kept for `idempotency.ttl` and replayed for the same method, path and body (1 to 255 printable ASCII characters, per API key)",
        ))
        .schema(Some(Object::with_type(Type::String)))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(parameter));
    for (status, response) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                crate::api::idempotency::REPLAYED.into(),
                RefOr::T(header(
                    "`true` when this is the stored answer of an earlier request with the same Idempotency-Key",
                    Type::String,
                )),
            );
        }
    }
    merge(operation, "409", "IdempotencyKeyInUse", IN_USE_NOTE, shared);
    merge(
        operation,
        "422",
        "IdempotencyKeyReused",
        REUSED_NOTE,
        shared,
    );
    merge(operation, "400", "BadRequest", BAD_KEY_NOTE, shared);
}

/// Adds the shared response `name` under `status`, or, when the operation
/// already answers that status for its own reasons, adds `note` to that
/// answer's description (and the shared response's headers).
fn merge(
    operation: &mut Operation,
    status: &str,
    name: &str,
    note: &str,
    shared: &BTreeMap<String, RefOr<Response>>,
) {
    let responses = &mut operation.responses.responses;
    let Some(existing) = responses.get(status) else {
        responses.insert(status.into(), RefOr::Ref(Ref::from_response_name(name)));
        return;
    };
    let mut own = match existing {
        RefOr::T(response) => response.clone(),
        RefOr::Ref(reference) => match reference
            .ref_location
            .strip_prefix("#/components/responses/")
            .and_then(|own| shared.get(own))
        {
            Some(RefOr::T(response)) => response.clone(),
            _ => return,
        },
    };
    if own.description.contains(note) {
        return;
    }
    own.description = format!("{}; {note}", own.description.trim_end_matches('.'));
    if let Some(RefOr::T(template)) = shared.get(name) {
        for (header_name, header) in &template.headers {
            own.headers
                .entry(header_name.clone())
                .or_insert_with(|| header.clone());
        }
    }
    responses.insert(status.into(), RefOr::T(own));
}

/// One operation of the admin API: its `operationId`, method, path (as the
/// document writes it) and the API-key scope it needs.
#[derive(Debug, Clone, Copy)]
pub struct AdminOperation {
    pub id: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub scope: crate::domain::Scope,
}

/// Every admin API operation, the one list the tests hold the code to:
/// the OpenAPI document must describe exactly these with these scopes, and
/// the 401/403 matrix calls each of them (so an operation added without an
/// entry here fails the document's test, one without a call the matrix's).
#[rustfmt::skip]
pub const ADMIN_OPERATIONS: &[AdminOperation] = {
    use crate::domain::Scope::*;
    const fn op(id: &'static str, method: &'static str, path: &'static str, scope: crate::domain::Scope) -> AdminOperation {
        AdminOperation { id, method, path, scope }
    }
    &[
        op("listEvents", "GET", "/v1/organization/events", EventsRead),
        op("createWebhook", "POST", "/v1/organization/webhooks", WebhooksWrite),
        op("listWebhooks", "GET", "/v1/organization/webhooks", WebhooksRead),
        op("getWebhook", "GET", "/v1/organization/webhooks/{id}", WebhooksRead),
        op("updateWebhook", "PATCH", "/v1/organization/webhooks/{id}", WebhooksWrite),
        op("deleteWebhook", "DELETE", "/v1/organization/webhooks/{id}", WebhooksWrite),
        op("rotateWebhookSecret", "POST", "/v1/organization/webhooks/{id}/rotate-secret", WebhooksWrite),
        op("testWebhook", "POST", "/v1/organization/webhooks/{id}/test", WebhooksWrite),
        op("listWebhookDeliveries", "GET", "/v1/organization/webhooks/{id}/deliveries", WebhooksRead),
        op("bulkInvite", "POST", "/v1/organization/invitations/bulk", InvitationsWrite),
        op("createJoinLink", "POST", "/v1/organization/join-links", InvitationsWrite),
        op("listJoinLinks", "GET", "/v1/organization/join-links", InvitationsRead),
        op("revokeJoinLink", "POST", "/v1/organization/join-links/{id}/revoke", InvitationsWrite),
        op("getAdminInvitation", "GET", "/v1/organization/invitations/{id}", InvitationsRead),
        op("updateUser", "PATCH", "/v1/organization/users/{id}", UsersWrite),
        op("getOrganization", "GET", "/v1/organization", OrganizationRead),
        op("updateOrganization", "PATCH", "/v1/organization", OrganizationWrite),
        op("deleteOrganization", "DELETE", "/v1/organization", OrganizationWrite),
        op("exportOrganization", "GET", "/v1/organization/export", OrganizationRead),
        op("listInvitations", "GET", "/v1/organization/invitations", InvitationsRead),
        op("inviteUser", "POST", "/v1/organization/invitations", InvitationsWrite),
        op("revokeInvitation", "POST", "/v1/organization/invitations/{id}/revoke", InvitationsWrite),
        op("resendInvitation", "POST", "/v1/organization/invitations/{id}/resend", InvitationsWrite),
        op("listUsers", "GET", "/v1/organization/users", UsersRead),
        op("removeUser", "DELETE", "/v1/organization/users/{id}", UsersWrite),
        op("listRoles", "GET", "/v1/organization/roles", RolesRead),
        op("createRole", "POST", "/v1/organization/roles", RolesWrite),
        op("getRole", "GET", "/v1/organization/roles/{key}", RolesRead),
        op("updateRole", "PATCH", "/v1/organization/roles/{key}", RolesWrite),
        op("deleteRole", "DELETE", "/v1/organization/roles/{key}", RolesWrite),
        op("checkPermissions", "POST", "/v1/organization/permissions/check", UsersRead),
        op("listTeams", "GET", "/v1/organization/teams", TeamsRead),
        op("createTeam", "POST", "/v1/organization/teams", TeamsWrite),
        op("getTeam", "GET", "/v1/organization/teams/{id}", TeamsRead),
        op("updateTeam", "PATCH", "/v1/organization/teams/{id}", TeamsWrite),
        op("deleteTeam", "DELETE", "/v1/organization/teams/{id}", TeamsWrite),
        op("listTeamMembers", "GET", "/v1/organization/teams/{id}/members", TeamsRead),
        op("addTeamMember", "PUT", "/v1/organization/teams/{id}/members/{userId}", TeamsWrite),
        op("removeTeamMember", "DELETE", "/v1/organization/teams/{id}/members/{userId}", TeamsWrite),
        op("listDomains", "GET", "/v1/organization/domains", DomainsRead),
        op("createDomain", "POST", "/v1/organization/domains", DomainsWrite),
        op("getDomain", "GET", "/v1/organization/domains/{id}", DomainsRead),
        op("deleteDomain", "DELETE", "/v1/organization/domains/{id}", DomainsWrite),
        op("verifyDomain", "POST", "/v1/organization/domains/{id}/verify", DomainsWrite),
    ]
};
