//! `POST /oauth/introspect` (RFC 7662): for resource servers that do not
//! check JWTs themselves. The caller is a confidential client; it learns
//! about its own tokens and about access tokens for an API it is registered
//! for (`--resource`). Anything else, or anything expired, revoked or
//! unknown, is `{"active": false}`, which says nothing more.

use super::token::parse_form;
use super::{OAuthFailure, client_credentials, no_store};
use crate::services::oauth::OAuthError;
use crate::services::oidc;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct IntrospectForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 7662 2.2.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// The account's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
}

/// `POST /oauth/introspect`
#[utoipa::path(
    post, path = "/oauth/introspect", operation_id = "introspectToken", tag = "OAuth2",
    request_body(content = crate::api::openapi::IntrospectRequestDoc, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "RFC 7662: what the token is, or `{\"active\": false}`", body = Introspection),
        (status = 400, response = crate::api::openapi::OAuthBadRequest),
        (status = 401, response = crate::api::openapi::InvalidClient),
        (status = 500, response = crate::api::openapi::OAuthServerError),
        (status = 503, response = crate::api::openapi::OAuthUnavailable)
    )
)]
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthFailure> {
    let form: IntrospectForm = parse_form(&req, &body)?;
    let (client_id, client_secret) = client_credentials(
        req.headers(),
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let token = form
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    let now = state.clock.now();
    let presented = token.clone();
    let (caller, refresh) = state
        .db
        .read(move |conn| {
            let caller = oidc::introspector(conn, &client_id, client_secret.as_deref())?;
            let refresh = oidc::introspect_refresh_token(conn, &caller, &presented, now)
                .map_err(|e| OAuthError::Server(e.to_string()))?;
            Ok::<_, OAuthError>((caller, refresh))
        })
        .await?;
    // The hint only orders the lookups (RFC 7662 2.1); both kinds are tried.
    let _ = form.token_type_hint;
    let answer = match (state.tokens.verify_any_audience(&token, now), refresh) {
        (Ok(claims), _) if oidc::may_introspect(&caller, &claims.client_id, &claims.aud) => {
            Introspection {
                active: true,
                scope: Some(claims.scope),
                client_id: Some(claims.client_id),
                username: Some(claims.email),
                token_type: Some("Bearer"),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                sub: Some(claims.sub),
                aud: Some(claims.aud),
                iss: Some(claims.iss),
                jti: Some(claims.jti),
            }
        }
        (_, Some(refresh)) => Introspection {
            active: true,
            scope: Some(refresh.scope),
            client_id: Some(caller.client_id),
            token_type: Some("refresh_token"),
            exp: Some(refresh.expires_at.0 / 1000),
            sub: Some(refresh.user_id.to_string()),
            iss: Some(state.public_url.clone()),
            ..Introspection::default()
        },
        _ => Introspection::default(),
    };
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.json(answer))
}
