//! `/oauth/token` (authorization code with PKCE, refresh token rotation,
//! client credentials) and `/oauth/revoke`, with RFC 6749 error answers.

use super::{OAuthFailure, client_credentials, no_store};
use crate::auth::jwt::{AccessGrant, IdTokenClaims};
use crate::services::oauth::{self, GrantRequest, OAuthError, TokenRequest};
use crate::services::signing_keys;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    resource: Option<String>,
}

/// RFC 6749 section 5.1, with OIDC Core 3.1.3.3's `id_token`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
    /// When the authorization asked for `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// A form body (`application/x-www-form-urlencoded`), or an RFC 6749 error.
pub(super) fn parse_form<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, OAuthError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return Err(OAuthError::InvalidRequest(
            "send the parameters as application/x-www-form-urlencoded".into(),
        ));
    }
    serde_urlencoded::from_bytes(body).map_err(|_| {
        OAuthError::InvalidRequest("the form body is malformed or repeats a parameter".into())
    })
}

fn required(value: Option<String>, name: &str) -> Result<String, OAuthError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

/// `POST /oauth/token`
#[utoipa::path(
    post, path = "/oauth/token", operation_id = "token", tag = "OAuth2",
    request_body(content = crate::api::openapi::TokenRequestDoc, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token (and a refresh token for the code and refresh grants)", body = TokenResponse),
        (status = 400, response = crate::api::openapi::OAuthBadRequest),
        (status = 401, response = crate::api::openapi::InvalidClient),
        (status = 500, response = crate::api::openapi::OAuthServerError),
        (status = 503, response = crate::api::openapi::OAuthUnavailable)
    )
)]
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthFailure> {
    let form: TokenForm = parse_form(&req, &body)?;
    let (client_id, client_secret) = client_credentials(
        req.headers(),
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let grant = match required(form.grant_type, "grant_type")?.as_str() {
        "authorization_code" => GrantRequest::AuthorizationCode {
            code: required(form.code, "code")?,
            redirect_uri: form.redirect_uri,
            code_verifier: form.code_verifier,
            resource: form.resource,
        },
        "refresh_token" => GrantRequest::RefreshToken {
            refresh_token: required(form.refresh_token, "refresh_token")?,
            scope: form.scope,
        },
        "client_credentials" => GrantRequest::ClientCredentials {
            scope: form.scope,
            resource: form.resource,
        },
        other => {
            return Err(OAuthError::UnsupportedGrantType(format!(
                "grant_type `{}` is not supported",
                crate::api::params::clip(other)
            ))
            .into());
        }
    };
    let request = TokenRequest {
        client_id,
        client_secret,
        grant,
    };
    let request_writes = request.grant.writes();
    let lifetimes = oauth::RefreshLifetimes {
        sliding: state.settings.auth.refresh_token_lifetime.0,
        max: state.settings.auth.refresh_token_max_lifetime.0,
    };
    let now = state.clock.now();
    let keys = oauth::KnownKeys {
        version: state.tokens.version(),
        retention: signing_keys::retention(state.settings.auth.access_token_lifetime.0),
    };
    let decision = if request_writes {
        state
            .db
            .write(move |tx| oauth::decide_token(tx, &request, lifetimes, keys, now))
            .await?
    } else {
        state
            .db
            .read(move |conn| oauth::decide_token(conn, &request, lifetimes, keys, now))
            .await?
    };
    if let Some(keys) = decision.new_keys {
        state
            .tokens
            .update(&keys)
            .map_err(|e| OAuthError::Server(e.to_string()))?;
    }
    let (client, grant) = decision.granted?;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.json(signed(&state, &client, grant, now)?))
}

/// The access token (and, for `openid`, the ID token) for a grant.
fn signed(
    state: &AppState,
    client: &oauth::Client,
    grant: oauth::Grant,
    now: crate::domain::Millis,
) -> Result<TokenResponse, OAuthError> {
    let signing_failed = |e: crate::auth::jwt::SigningError| OAuthError::Server(e.to_string());
    let access = state
        .tokens
        .issue_access(
            &AccessGrant {
                user_id: grant.user_id,
                email: &grant.email,
                email_verified: grant.email_verified,
                client_id: &client.client_id,
                scope: &grant.scope,
                audience: grant.resource.as_deref(),
                organizations: grant.organizations.as_ref(),
            },
            now,
        )
        .map_err(signing_failed)?;
    let id_token = match &grant.id_token {
        Some(facts) => Some(
            state
                .tokens
                .issue_id_token(
                    &IdTokenClaims {
                        client_id: &client.client_id,
                        auth_time: facts.auth_time.0 / 1000,
                        nonce: facts.nonce.as_deref(),
                        amr: facts.methods.amr(),
                        person: &facts.claims,
                    },
                    now,
                )
                .map_err(signing_failed)?,
        ),
        None => None,
    };
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: grant.refresh_token,
        scope: grant.scope,
        id_token,
    })
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    #[allow(dead_code)] // accepted per RFC 7009; only refresh tokens are revocable
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /oauth/revoke` (RFC 7009): revokes a refresh token and its family.
/// Unknown tokens answer 200 too, so the endpoint reveals nothing.
#[utoipa::path(
    post, path = "/oauth/revoke", operation_id = "revokeToken", tag = "OAuth2",
    request_body(content = crate::api::openapi::RevokeRequestDoc, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or unknown (RFC 7009)"),
        (status = 400, response = crate::api::openapi::OAuthBadRequest),
        (status = 401, response = crate::api::openapi::InvalidClient),
        (status = 500, response = crate::api::openapi::OAuthServerError),
        (status = 503, response = crate::api::openapi::OAuthUnavailable)
    )
)]
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthFailure> {
    let form: RevokeForm = parse_form(&req, &body)?;
    let (client_id, client_secret) = client_credentials(
        req.headers(),
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let token = required(form.token, "token")?;
    let now = state.clock.now();
    state
        .db
        .write(move |tx| {
            let client = oauth::authenticate_client(tx, &client_id, client_secret.as_deref())?;
            oauth::revoke(tx, &client, &token, now)
        })
        .await?;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.finish())
}
