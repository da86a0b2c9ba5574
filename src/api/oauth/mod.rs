//! The OAuth2 authorization server's endpoints. Errors here follow RFC 6749
//! (`error`, `error_description`), not problem details.

pub mod introspect;
pub mod metadata;
pub mod token;
pub mod userinfo;

use crate::services::oauth::OAuthError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpResponse, ResponseError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use std::fmt;

/// An RFC 6749 section 5.2 error answer.
#[derive(Debug)]
pub struct OAuthFailure(pub OAuthError);

impl From<OAuthError> for OAuthFailure {
    fn from(error: OAuthError) -> Self {
        OAuthFailure(error)
    }
}

impl From<crate::services::StorageError> for OAuthFailure {
    fn from(error: crate::services::StorageError) -> Self {
        OAuthFailure(OAuthError::Storage(error))
    }
}

impl fmt::Display for OAuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code(), self.0)
    }
}

/// An RFC 6749 section 5.2 error body, as `/oauth/token` and `/oauth/revoke` answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthError)]
pub struct OAuthErrorBody<'a> {
    #[schema(example = "invalid_grant")]
    pub error: &'a str,
    pub error_description: String,
}

impl ResponseError for OAuthFailure {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthError::Storage(storage) if storage.is_busy() => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::Server(_) | OAuthError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = match &self.0 {
            OAuthError::Storage(_) | OAuthError::Server(_) => {
                crate::http::problem::INTERNAL_DETAIL.to_owned()
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        no_store(&mut response);
        if matches!(self.0, OAuthError::InvalidClient) {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"enlist\""));
        }
        if matches!(&self.0, OAuthError::Storage(storage) if storage.is_busy()) {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        let mut response = response.json(OAuthErrorBody {
            error: self.0.code(),
            error_description: description,
        });
        if self.status_code().is_server_error() {
            crate::http::request_log::attach_failure(&mut response, &self.0);
        }
        response
    }
}

/// Token and revocation answers must never be cached (RFC 6749 5.1).
pub fn no_store(response: &mut actix_web::HttpResponseBuilder) {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}

/// The client's credentials from HTTP Basic (RFC 6749 2.3.1, with the
/// form-encoding it prescribes) or from the body. Using both is refused.
pub fn client_credentials(
    headers: &HeaderMap,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<(String, Option<String>), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim());
    match basic {
        Some(encoded) => {
            if body_secret.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "send the client secret in the Authorization header or in the body, not both"
                        .into(),
                ));
            }
            let decoded = STANDARD
                .decode(encoded)
                .map_err(|_| OAuthError::InvalidClient)?;
            let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
            let id = form_decode(id);
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::InvalidClient);
            }
            Ok((id, Some(form_decode(secret))))
        }
        None => {
            let id = body_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| OAuthError::InvalidRequest("client_id is required".into()))?;
            Ok((id.to_owned(), body_secret.map(str::to_owned)))
        }
    }
}

fn form_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The authorization server's machine endpoints: its metadata, its keys,
/// the token and revocation endpoints. (Its sign-in page is in `web`.)
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    use crate::http::routes::{self, Endpoint};
    routes::register(
        cfg,
        [
            Endpoint::at(metadata::JWKS_PATH).get(metadata::jwks),
            Endpoint::at("/.well-known/oauth-authorization-server")
                .get(metadata::authorization_server),
            Endpoint::at("/.well-known/openid-configuration").get(metadata::openid_configuration),
            Endpoint::at("/oauth/token").post(token::token),
            Endpoint::at("/oauth/revoke").post(token::revoke),
            Endpoint::at("/oauth/introspect").post(introspect::introspect),
            Endpoint::at("/userinfo")
                .get(userinfo::userinfo)
                .post(userinfo::userinfo),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20client:s3cr%3At");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        let (id, secret) = client_credentials(&headers, None, None).unwrap();
        assert_eq!(
            (id.as_str(), secret.as_deref()),
            ("my client", Some("s3cr:t"))
        );
        assert!(client_credentials(&headers, None, Some("x")).is_err());
    }

    #[test]
    fn body_credentials() {
        let headers = HeaderMap::new();
        let (id, secret) = client_credentials(&headers, Some("c"), Some("s")).unwrap();
        assert_eq!((id.as_str(), secret.as_deref()), ("c", Some("s")));
        assert!(matches!(
            client_credentials(&headers, None, None),
            Err(OAuthError::InvalidRequest(_))
        ));
    }
}
