//! The OAuth2 authorization server's rules: clients, authorization codes
//! with PKCE, refresh-token rotation with reuse detection, and client
//! credentials. Access tokens themselves are signed at the edge
//! (`auth::jwt`); this module decides who they are for.

use super::{ServiceError, ServiceResult};
use crate::auth::secrets;
use crate::db::Conn;
use crate::db::{self, StorageError};
use crate::domain::oidc::{Prompt, ScopeName, Scopes};
use crate::domain::{AuthMethods, Email, Millis};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The scope of the invitee API, granted when a request names none.
pub const SCOPE: &str = "invitations";
/// The longest `nonce` kept (OIDC sets no bound; this keeps rows small).
const MAX_NONCE_LEN: usize = 512;
/// Codes are exchanged by the client right after the redirect.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
const CLIENT_ID_PREFIX: &str = "enlc_";

/// Errors with the names RFC 6749 section 5.2 gives them.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 8707: a resource the client is not registered for.
    #[error("{0}")]
    InvalidTarget(String),
    /// Something failed on our side; the description never says what.
    #[error("{0}")]
    Server(String),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for OAuthError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NulCharacter => OAuthError::InvalidRequest(
                "parameters may not contain NUL characters (U+0000)".into(),
            ),
            error => OAuthError::Storage(error),
        }
    }
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::Server(_) | OAuthError::Storage(_) => "server_error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub confidential: bool,
    /// The account a confidential client's client-credentials tokens act for.
    pub user_id: Option<i64>,
    pub created_at: Millis,
    /// Registered by the operator as the service's own app: no consent page.
    pub first_party: bool,
    /// Where RP-initiated logout may send the browser back to.
    pub post_logout_redirect_uris: Vec<String>,
    /// The APIs (RFC 8707) the client may ask tokens for.
    pub resources: Vec<String>,
}

impl From<db::oauth::ClientRow> for Client {
    fn from(row: db::oauth::ClientRow) -> Self {
        Self {
            id: row.id,
            client_id: row.client_id,
            name: row.name,
            redirect_uris: row.redirect_uris,
            confidential: row.secret_sha256.is_some(),
            user_id: row.user_id,
            created_at: row.created_at,
            first_party: row.first_party,
            post_logout_redirect_uris: row.post_logout_redirect_uris,
            resources: row.resources,
        }
    }
}

impl Client {
    /// Redirect URIs match exactly, character for character.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }
}

#[derive(Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub user: Option<Email>,
    /// An app that is not the operator's own: people are asked to consent.
    pub third_party: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub resources: Vec<String>,
}

/// Registers a client; answers it with its secret (confidential clients
/// only), which is shown this once and stored only as a SHA-256 digest.
pub fn create_client(
    tx: &Conn,
    new: &NewClient,
    now: Millis,
) -> ServiceResult<(Client, Option<String>)> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid("name", "the client needs a name"));
    }
    for uri in &new.redirect_uris {
        validate_redirect_uri(uri)?;
    }
    for uri in &new.post_logout_redirect_uris {
        validate_redirect_uri(uri)
            .map_err(|_| ServiceError::invalid("post_logout_redirect_uri", format!("`{uri}` must be an absolute https URI without a fragment (http only for 127.0.0.1, [::1] or localhost)")))?;
    }
    for resource in &new.resources {
        if !valid_resource(resource) {
            return Err(ServiceError::invalid(
                "resource",
                format!(
                    "`{resource}` must be an absolute https URI without a fragment (RFC 8707; http only for loopback hosts)"
                ),
            ));
        }
    }
    if new.public && new.user.is_some() {
        return Err(ServiceError::invalid(
            "user",
            "a public client has no secret, so it cannot use client credentials for an account",
        ));
    }
    let user_id = match &new.user {
        Some(email) => Some(
            db::users::find_by_email(tx, email)?
                .ok_or(ServiceError::NotFound("account"))?
                .id,
        ),
        None => None,
    };
    let client_id = format!("{CLIENT_ID_PREFIX}{}", secrets::random_base62(20));
    let secret = (!new.public).then(|| secrets::random_base62(40));
    let digest = secret.as_deref().map(secrets::sha256);
    let row = db::oauth::insert_client(
        tx,
        &db::oauth::NewClient {
            client_id: &client_id,
            secret_sha256: digest.as_ref().map(|d| d.as_slice()),
            name,
            redirect_uris: &new.redirect_uris,
            user_id,
            first_party: !new.third_party,
            post_logout_redirect_uris: &new.post_logout_redirect_uris,
            resources: &new.resources,
        },
        now,
    )?;
    Ok((row.into(), secret))
}

/// An absolute `https://` URI without a fragment; `http://` only for a
/// loopback host (RFC 8252 7.3, RFC 9700 2.6), where nothing travels the network.
fn validate_redirect_uri(uri: &str) -> ServiceResult<()> {
    let invalid = |why: &str| {
        Err(ServiceError::invalid(
            "redirect_uri",
            format!("`{uri}` {why}"),
        ))
    };
    let authority = uri.split_once("://").map_or("", |(_, rest)| rest);
    if authority.is_empty()
        || authority.starts_with('/')
        || uri.contains('#')
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return invalid("must be an absolute https URI without a fragment");
    }
    let Ok(parsed) = url::Url::parse(uri) else {
        return invalid("must be an absolute https URI without a fragment");
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => invalid(
            "uses http:// with a host other than 127.0.0.1, [::1] or localhost; use https://",
        ),
        _ => invalid("must be an absolute https URI without a fragment"),
    }
}

/// RFC 8707 2: an absolute URI without a fragment; https, or http for a
/// loopback host (an API on the same machine).
fn valid_resource(resource: &str) -> bool {
    !resource.contains('#')
        && url::Url::parse(resource).is_ok_and(|url| match url.scheme() {
            "https" => url.host().is_some(),
            "http" => is_loopback(&url),
            _ => false,
        })
}

fn is_loopback(uri: &url::Url) -> bool {
    match uri.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

pub fn find_client(conn: &Conn, client_id: &str) -> Result<Option<Client>, OAuthError> {
    Ok(db::oauth::find_client(conn, client_id)?.map(Client::from))
}

/// Authenticates a client: confidential clients by their secret (compared
/// as SHA-256 digests in constant time), public clients by id alone.
pub fn authenticate_client(
    conn: &Conn,
    client_id: &str,
    secret: Option<&str>,
) -> Result<Client, OAuthError> {
    let row = db::oauth::find_client(conn, client_id)?.ok_or(OAuthError::InvalidClient)?;
    let authentic = match (&row.secret_sha256, secret) {
        (Some(digest), Some(secret)) => secrets::matches_digest(secret, digest),
        (None, None) => true,
        _ => false,
    };
    if authentic {
        Ok(row.into())
    } else {
        Err(OAuthError::InvalidClient)
    }
}

/// The authorization request, as the client sent it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    scope: Option<String>,
    nonce: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    resource: Option<String>,
}

impl AuthorizeParams {
    /// The request as a query string: what an emailed link resumes.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    pub fn from_query(query: &str) -> Option<Self> {
        serde_urlencoded::from_str(query).ok()
    }

    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// Carried through the forms as hidden fields.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("scope", &self.scope),
            ("nonce", &self.nonce),
            ("prompt", &self.prompt),
            ("max_age", &self.max_age),
            ("resource", &self.resource),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name.to_owned(), v.clone())))
        .collect()
    }
}

impl AuthorizeParams {
    /// The same request once the person signed in: `prompt=login` (and
    /// `select_account`) and `max_age` were answered by that sign-in, so
    /// asking again would ask for one sign-in after another.
    pub fn after_sign_in(&self) -> Self {
        let prompt = self.prompt.as_deref().map(|prompt| {
            prompt
                .split_whitespace()
                .filter(|word| !matches!(*word, "login" | "select_account"))
                .collect::<Vec<_>>()
                .join(" ")
        });
        Self {
            prompt: prompt.filter(|p| !p.is_empty()),
            max_age: None,
            ..self.clone()
        }
    }
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub scope: Scopes,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    /// OIDC `max_age`: a sign-in older than this many seconds is not enough.
    pub max_age: Option<u64>,
    pub resource: Option<String>,
    /// The request as the client sent it.
    pub params: AuthorizeParams,
}

impl Authorization {
    /// Whether a sign-in at `signed_in_at` is recent enough for `max_age`.
    pub fn sign_in_fresh_enough(&self, signed_in_at: Millis, now: Millis) -> bool {
        self.max_age.is_none_or(|max_age| {
            let age_ms = now.0.saturating_sub(signed_in_at.0);
            u64::try_from(age_ms).unwrap_or(0) <= max_age.saturating_mul(1000)
        })
    }
}

/// Why an authorization request is refused, and how (RFC 6749 4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    /// The client or its redirect URI cannot be trusted: the person is told
    /// on a page, never redirected.
    Page(&'static str),
    /// Anything else goes back to the client's registered redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

/// The rules of an authorization request: a registered client, one of its
/// redirect URIs exactly, `response_type=code`, PKCE with S256 (for every
/// client, RFC 9700) and a scope enlist grants.
pub fn check_authorization(
    conn: &Conn,
    params: &AuthorizeParams,
) -> Result<Result<Authorization, AuthorizeRefusal>, StorageError> {
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(Err(AuthorizeRefusal::Page(
            "The request does not say which application it is for.",
        )));
    };
    let Some(client) = db::oauth::find_client(conn, client_id)?.map(Client::from) else {
        return Ok(Err(AuthorizeRefusal::Page(
            "The application is not registered with this server.",
        )));
    };
    let redirect_uri = match &params.redirect_uri {
        Some(uri) if client.allows_redirect(uri) => uri.clone(),
        _ => {
            return Ok(Err(AuthorizeRefusal::Page(
                "The application asked to return to an address it has not registered.",
            )));
        }
    };
    let refuse = |error: &'static str, description: &str| {
        Ok(Err(AuthorizeRefusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description: description.to_owned(),
            state: params.state.clone(),
        }))
    };
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return refuse("invalid_request", "response_type is required"),
        Some(_) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
    }
    match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), Some("S256")) if valid_pkce_value(challenge) => {}
        (Some(_), Some("S256")) => return refuse("invalid_request", "code_challenge is malformed"),
        (Some(_), _) => return refuse("invalid_request", "code_challenge_method must be S256"),
        (None, Some(_)) => {
            return refuse(
                "invalid_request",
                "code_challenge_method without code_challenge",
            );
        }
        (None, None) => {
            return refuse(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
    }
    let scope = match Scopes::parse(params.scope.as_deref()) {
        Ok(scope) => scope,
        Err(error) => return refuse("invalid_scope", &error.to_string()),
    };
    let prompt = match Prompt::parse(params.prompt.as_deref()) {
        Ok(prompt) => prompt,
        Err(error) => return refuse("invalid_request", &error.to_string()),
    };
    let nonce = params.nonce.clone().filter(|n| !n.is_empty());
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return refuse("invalid_request", "nonce is longer than 512 characters");
    }
    let max_age = match params.max_age.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(seconds)) => Some(seconds),
        Some(Err(_)) => {
            return refuse(
                "invalid_request",
                "max_age must be a whole number of seconds",
            );
        }
    };
    let resource = match checked_resource(&client, params.resource.as_deref()) {
        Ok(resource) => resource,
        Err(error) => return refuse(error.code(), &error.to_string()),
    };
    Ok(Ok(Authorization {
        client,
        redirect_uri,
        state: params.state.clone(),
        code_challenge: params.code_challenge.clone(),
        scope,
        nonce,
        prompt,
        max_age,
        resource,
        params: params.clone(),
    }))
}

/// The granted scope for a requested one: absent means `invitations`.
pub fn granted_scope(requested: Option<&str>) -> Result<Scopes, OAuthError> {
    Scopes::parse(requested).map_err(|unknown| OAuthError::InvalidScope(unknown.to_string()))
}

/// RFC 8707: a `resource` the client asked for must be one it is registered
/// for; none means enlist's own API.
pub fn checked_resource(
    client: &Client,
    resource: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    match resource.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(resource) if client.resources.iter().any(|r| r == resource) => {
            Ok(Some(resource.to_owned()))
        }
        Some(resource) => Err(OAuthError::InvalidTarget(format!(
            "the client is not registered for the resource `{}`",
            resource.chars().take(200).collect::<String>()
        ))),
    }
}

/// RFC 7636: 43 to 128 characters of the unreserved set.
pub fn valid_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(secrets::sha256(verifier))
}

pub struct NewCode<'a> {
    pub authorization: &'a Authorization,
    pub user_id: i64,
    /// When and how the person signed in (their session's).
    pub auth_time: Millis,
    pub methods: &'a AuthMethods,
}

/// A fresh single-use authorization code (only its digest is stored).
pub fn issue_code(tx: &Conn, new: &NewCode<'_>, now: Millis) -> ServiceResult<String> {
    db::oauth::delete_expired_codes(tx, now)?;
    let code = secrets::random_base62(32);
    db::oauth::insert_code(
        tx,
        &db::oauth::NewCode {
            code_sha256: &secrets::sha256(&code),
            client: new.authorization.client.id,
            user_id: new.user_id,
            redirect_uri: &new.authorization.redirect_uri,
            code_challenge: new.authorization.code_challenge.as_deref(),
            scope: &new.authorization.scope.as_string(),
            expires_at: now.plus(CODE_LIFETIME),
            nonce: new.authorization.nonce.as_deref(),
            auth_time: new.auth_time,
            methods: &new.methods.stored(),
            resource: new.authorization.resource.as_deref(),
        },
    )?;
    Ok(code)
}

/// Who a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    pub email: String,
    pub email_verified: bool,
    pub scope: String,
    /// A new refresh token, for the flows that get one.
    pub refresh_token: Option<String>,
    /// The API the access token is for (RFC 8707); None: enlist's own.
    pub resource: Option<String>,
    /// What the ID token says, when the code's request asked for `openid`.
    pub id_token: Option<IdTokenFacts>,
    /// The `organizations` claim of the access token (and the ID token),
    /// when the granted scope has `organizations`: read as the grant is.
    pub organizations: Option<crate::domain::oidc::OrganizationsClaim>,
}

/// What an ID token tells of the person and their sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenFacts {
    pub nonce: Option<String>,
    pub auth_time: Millis,
    pub methods: AuthMethods,
    /// The claims the granted scopes allow.
    pub claims: super::oidc::PersonClaims,
}

pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    /// RFC 8707 2.2: at the token endpoint, the resource authorized (or none).
    pub resource: Option<&'a str>,
}

/// How long refresh tokens live: each one `sliding` past its issue, and no
/// rotation past the family's start plus `max` (the family's first token
/// came from an authorization code; the person signed in then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshLifetimes {
    pub sliding: Duration,
    pub max: Duration,
}

impl RefreshLifetimes {
    fn expiry(&self, family_started_at: Millis, now: Millis) -> Millis {
        Millis(
            now.plus(self.sliding)
                .0
                .min(family_started_at.plus(self.max).0),
        )
    }
}

/// Exchanges an authorization code (RFC 6749 4.1.3). A code presented by
/// another client is refused and left as it was, so a stolen code cannot be
/// burnt by whoever stole it. Presented by its own client, it is used up
/// whatever the outcome, and kept (marked used) until it expires: presenting
/// it again revokes the refresh tokens its first exchange issued (4.1.2).
pub fn exchange_code(
    tx: &Conn,
    client: &Client,
    exchange: &CodeExchange<'_>,
    lifetimes: RefreshLifetimes,
    now: Millis,
) -> Result<Result<Grant, OAuthError>, StorageError> {
    let invalid = |why: &str| Ok(Err(OAuthError::InvalidGrant(why.to_owned())));
    let unusable = "the authorization code is invalid, expired or already used";
    let digest = secrets::sha256(exchange.code);
    let Some(code) = db::oauth::find_code(tx, &digest)? else {
        return invalid(unusable);
    };
    if code.client != client.id || code.expires_at <= now {
        return invalid(unusable);
    }
    let family = uuid::Uuid::new_v4().to_string();
    if code.used_at.is_some() || !db::oauth::mark_code_used(tx, &digest, &family, now)? {
        if let Some(family) = &code.family {
            let revoked = db::oauth::revoke_family(tx, family, now)?;
            tracing::warn!(
                client_id = %client.client_id,
                revoked,
                "a used authorization code was presented again; the tokens it issued are revoked"
            );
        }
        return invalid(unusable);
    }
    if exchange.redirect_uri != Some(code.redirect_uri.as_str()) {
        return invalid("redirect_uri does not match the authorization request");
    }
    // PKCE is required at the authorization endpoint, so every code has a challenge.
    let Some(challenge) = &code.code_challenge else {
        return invalid("the authorization request had no code_challenge");
    };
    let Some(verifier) = exchange.code_verifier else {
        return invalid("code_verifier is required");
    };
    let matches: bool = s256(verifier).as_bytes().ct_eq(challenge.as_bytes()).into();
    if !valid_pkce_value(verifier) || !matches {
        return invalid("code_verifier does not match the code_challenge");
    }
    if let Some(resource) = exchange.resource.filter(|r| !r.is_empty())
        && code.resource.as_deref() != Some(resource)
    {
        return Ok(Err(OAuthError::InvalidTarget(
            "the resource is not the one the authorization request named".into(),
        )));
    }
    let Some(user) = db::users::get(tx, code.user_id)? else {
        return invalid("the account no longer exists");
    };
    let refresh_token = new_refresh_token(
        tx,
        &NewFamilyToken {
            family: &family,
            family_started_at: now,
            client: client.id,
            user_id: user.id,
            scope: &code.scope,
            resource: code.resource.as_deref(),
        },
        lifetimes,
        now,
    )?;
    // Stored scopes were written by `Scopes::as_string`; one that no longer
    // parses asks for nothing OpenID.
    let granted = Scopes::parse(Some(&code.scope)).ok();
    let organizations = match &granted {
        Some(scopes) => super::oidc::organizations_claim(tx, user.id, scopes)?,
        None => None,
    };
    let id_token = granted
        .filter(|scopes| scopes.contains(ScopeName::OpenId))
        .map(|scopes| IdTokenFacts {
            nonce: code.nonce.clone(),
            auth_time: code.auth_time.unwrap_or(now),
            methods: AuthMethods::parse(code.methods.as_deref().unwrap_or("")),
            claims: super::oidc::PersonClaims {
                organizations: organizations.clone(),
                ..super::oidc::PersonClaims::of(&user, &scopes)
            },
        });
    Ok(Ok(Grant {
        organizations,
        user_id: user.id,
        email_verified: user.email_verified(),
        email: user.email,
        scope: code.scope,
        refresh_token: Some(refresh_token),
        resource: code.resource,
        id_token,
    }))
}

/// Rotates a refresh token. Presenting one that was already rotated means
/// it leaked (or the client misbehaves): the whole family is revoked, and
/// that revocation is committed even though the request is refused. The new
/// token never outlives the family's start plus the maximum lifetime.
pub fn refresh(
    tx: &Conn,
    client: &Client,
    presented: &str,
    requested_scope: Option<&Scopes>,
    lifetimes: RefreshLifetimes,
    now: Millis,
) -> Result<Result<Grant, OAuthError>, StorageError> {
    let invalid = || {
        Ok(Err(OAuthError::InvalidGrant(
            "the refresh token is invalid, expired or revoked".into(),
        )))
    };
    let digest = secrets::sha256(presented);
    let Some(token) = db::oauth::find_refresh_token(tx, &digest)? else {
        return invalid();
    };
    if token.client != client.id {
        return invalid();
    }
    if token.used_at.is_some() {
        let revoked = db::oauth::revoke_family(tx, &token.family, now)?;
        tracing::warn!(
            client_id = %client.client_id,
            revoked,
            "a rotated refresh token was presented again; its family is revoked"
        );
        return invalid();
    }
    let family_ends = token.family_started_at.plus(lifetimes.max);
    if token.revoked_at.is_some() || token.expires_at <= now || family_ends <= now {
        return invalid();
    }
    // RFC 6749 6: a refresh may not widen the scope. Refused before the
    // token is used, so the refusal changes nothing; the new tokens keep
    // the scope granted.
    if let Some(requested) = requested_scope
        && !Scopes::parse(Some(&token.scope)).is_ok_and(|granted| requested.is_within(&granted))
    {
        return Ok(Err(OAuthError::InvalidScope(
            "the scope asked for is wider than the one granted".into(),
        )));
    }
    let Some(user) = db::users::get(tx, token.user_id)? else {
        return invalid();
    };
    db::oauth::mark_refresh_token_used(tx, &digest, now)?;
    // Read afresh: a refreshed token tells the memberships as they are now.
    let organizations = match Scopes::parse(Some(&token.scope)) {
        Ok(scopes) => super::oidc::organizations_claim(tx, user.id, &scopes)?,
        Err(_) => None,
    };
    let refresh_token = new_refresh_token(
        tx,
        &NewFamilyToken {
            family: &token.family,
            family_started_at: token.family_started_at,
            client: client.id,
            user_id: user.id,
            scope: &token.scope,
            resource: token.resource.as_deref(),
        },
        lifetimes,
        now,
    )?;
    // A refresh answers no new ID token (OIDC Core 12.2 allows either):
    // the sign-in it would describe is the one the first token told of.
    Ok(Ok(Grant {
        user_id: user.id,
        email_verified: user.email_verified(),
        email: user.email,
        scope: token.scope,
        refresh_token: Some(refresh_token),
        resource: token.resource,
        id_token: None,
        organizations,
    }))
}

struct NewFamilyToken<'a> {
    family: &'a str,
    family_started_at: Millis,
    client: i64,
    user_id: i64,
    scope: &'a str,
    resource: Option<&'a str>,
}

fn new_refresh_token(
    tx: &Conn,
    new: &NewFamilyToken<'_>,
    lifetimes: RefreshLifetimes,
    now: Millis,
) -> crate::db::sql::Result<String> {
    let token = secrets::random_base62(43);
    db::oauth::insert_refresh_token(
        tx,
        &db::oauth::NewRefreshToken {
            token_sha256: &secrets::sha256(&token),
            family: new.family,
            family_started_at: new.family_started_at,
            client: new.client,
            user_id: new.user_id,
            scope: new.scope,
            expires_at: lifetimes.expiry(new.family_started_at, now),
            resource: new.resource,
        },
        now,
    )?;
    Ok(token)
}

/// Client credentials: the token acts for the account bound to the client.
/// It is a machine's token: `invitations` only, no ID token.
pub fn client_credentials(
    conn: &Conn,
    client: &Client,
    scope: &Scopes,
    resource: Option<String>,
) -> Result<Grant, OAuthError> {
    if scope.names() != [ScopeName::Invitations] {
        return Err(OAuthError::InvalidScope(
            "the client_credentials grant gives the `invitations` scope only".into(),
        ));
    }
    if !client.confidential {
        return Err(OAuthError::UnauthorizedClient(
            "public clients cannot use the client_credentials grant".into(),
        ));
    }
    let user_id = client.user_id.ok_or_else(|| {
        OAuthError::UnauthorizedClient(
            "this client is not bound to an account (enlist client create --user)".into(),
        )
    })?;
    let user = db::users::get(conn, user_id)?.ok_or_else(|| {
        OAuthError::UnauthorizedClient("the client's account no longer exists".into())
    })?;
    Ok(Grant {
        user_id: user.id,
        email_verified: user.email_verified(),
        email: user.email,
        scope: scope.as_string(),
        refresh_token: None,
        resource,
        id_token: None,
        organizations: None,
    })
}

/// A token request, after the edge has parsed the form and the client's credentials.
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub grant: GrantRequest,
}

pub enum GrantRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
        resource: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
        resource: Option<String>,
    },
}

impl GrantRequest {
    /// Client credentials only read; the other grants change stored state.
    pub fn writes(&self) -> bool {
        !matches!(self, GrantRequest::ClientCredentials { .. })
    }
}

/// Authenticates the client and decides the grant. The outer error rolls
/// the transaction back; an inner refusal is committed (a used code stays
/// used, a reused refresh token's family stays revoked).
pub fn grant(
    conn: &Conn,
    request: &TokenRequest,
    lifetimes: RefreshLifetimes,
    now: Millis,
) -> Result<Result<(Client, Grant), OAuthError>, StorageError> {
    let client =
        match authenticate_client(conn, &request.client_id, request.client_secret.as_deref()) {
            Ok(client) => client,
            Err(OAuthError::Storage(error)) => return Err(error),
            Err(refused) => return Ok(Err(refused)),
        };
    let granted = match &request.grant {
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resource,
        } => exchange_code(
            conn,
            &client,
            &CodeExchange {
                code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_deref(),
                resource: resource.as_deref(),
            },
            lifetimes,
            now,
        )?,
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => match scope.as_deref().map(|s| granted_scope(Some(s))).transpose() {
            Ok(requested) => refresh(
                conn,
                &client,
                refresh_token,
                requested.as_ref(),
                lifetimes,
                now,
            )?,
            Err(refused) => Err(refused),
        },
        GrantRequest::ClientCredentials { scope, resource } => {
            match granted_scope(scope.as_deref())
                .and_then(|scope| Ok((scope, checked_resource(&client, resource.as_deref())?)))
            {
                Ok((scope, resource)) => {
                    match client_credentials(conn, &client, &scope, resource) {
                        Err(OAuthError::Storage(error)) => return Err(error),
                        outcome => outcome,
                    }
                }
                Err(refused) => Err(refused),
            }
        }
    };
    Ok(granted.map(|grant| (client, grant)))
}

/// The signing keys the caller signs with: their version, and how long
/// retired keys stay published.
#[derive(Debug, Clone, Copy)]
pub struct KnownKeys {
    pub version: i64,
    pub retention: Duration,
}

/// What the token endpoint decides in one storage call.
pub struct TokenDecision {
    /// The grant, or the refusal (committed, see [`grant`]).
    pub granted: Result<(Client, Grant), OAuthError>,
    /// The signing keys, when they changed since [`KnownKeys::version`]
    /// (`enlist keys rotate` ran): the token is signed with the new key.
    pub new_keys: Option<crate::auth::jwt::SigningKeys>,
}

/// [`grant`], and whether the signing keys changed, in the same storage call.
pub fn decide_token(
    conn: &Conn,
    request: &TokenRequest,
    lifetimes: RefreshLifetimes,
    keys: KnownKeys,
    now: Millis,
) -> Result<TokenDecision, OAuthError> {
    let granted = grant(conn, request, lifetimes, now)?;
    let new_keys = super::signing_keys::changed_since(conn, keys.version, keys.retention, now)
        .map_err(|error| match error {
            ServiceError::Storage(storage) => OAuthError::Storage(storage),
            other => OAuthError::Server(other.to_string()),
        })?;
    Ok(TokenDecision { granted, new_keys })
}

/// RFC 7009: revokes the refresh token's family if the token belongs to the
/// client; unknown tokens and other clients' tokens change nothing.
pub fn revoke(tx: &Conn, client: &Client, presented: &str, now: Millis) -> Result<(), OAuthError> {
    if let Some(token) = db::oauth::find_refresh_token(tx, &secrets::sha256(presented))?
        && token.client == client.id
    {
        db::oauth::revoke_family(tx, &token.family, now)?;
    }
    Ok(())
}

/// A 256-bit key of the server's own, generated on first use and kept.
pub fn server_key(tx: &Conn, name: &str, now: Millis) -> ServiceResult<Vec<u8>> {
    Ok(db::oauth::server_secret(
        tx,
        name,
        || {
            use rand::RngCore;
            let mut key = vec![0_u8; 32];
            rand::rng().fill_bytes(&mut key);
            key
        },
        now,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(valid_pkce_value(verifier));
        assert!(!valid_pkce_value("short"));
        assert!(!valid_pkce_value(&format!("{verifier}!")));
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http() {
        for good in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1:9/callback",
            "http://[::1]:8080/cb",
            "http://localhost/cb",
            "http://LOCALHOST:1/cb",
        ] {
            assert!(validate_redirect_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://app.example.com/cb",
            "http://127.0.0.2/cb",
            "http://localhost.evil.test/cb",
            "https://app.example.com/cb#frag",
            "ftp://app.example.com/cb",
            "app.example.com/cb",
            "https:///cb",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refresh_expiry_is_capped_by_the_family() {
        let day = Duration::from_secs(24 * 3600);
        let lifetimes = RefreshLifetimes {
            sliding: day * 30,
            max: day * 90,
        };
        let start = Millis(0);
        assert_eq!(lifetimes.expiry(start, start), start.plus(day * 30));
        assert_eq!(
            lifetimes.expiry(start, start.plus(day * 80)),
            start.plus(day * 90)
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(granted_scope(None).unwrap().as_string(), SCOPE);
        assert_eq!(
            granted_scope(Some("invitations")).unwrap().as_string(),
            SCOPE
        );
        assert!(matches!(
            granted_scope(Some("admin")),
            Err(OAuthError::InvalidScope(_))
        ));
    }
}
