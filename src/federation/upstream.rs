//! Signing in at an upstream OpenID provider (`[[auth.oidc_providers]]`):
//! discovery, the authorization request (code flow, PKCE S256, `state`,
//! `nonce`), the code exchange and the ID token's validation (OIDC Core
//! §3.1.3.7), all by the `openidconnect` crate over [`Outbound`].
//!
//! Nothing here keeps a login in progress: [`Providers::begin`] answers the
//! secrets the caller stores, and [`Providers::finish`] takes them back.

use super::ExternalIdentity;
use super::outbound::{Outbound, OutboundError};
use crate::domain::Millis;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, JwsSigningAlgorithm, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoError,
};
use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A discovery document is fetched again after this long.
const DISCOVERY_FRESH: Duration = Duration::from_secs(3600);
/// An ID token signed by a key the cached key set lacks (the provider
/// rotated) fetches discovery and keys again, at most this often.
const KEYS_REFRESH_MIN: Duration = Duration::from_secs(60);
/// A provider that stopped answering is still used from its last discovery
/// for this long.
const DISCOVERY_STALE: Duration = Duration::from_secs(24 * 3600);
/// Discovery is not retried more often than this while a provider is down.
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);

/// One configured provider, as `config.toml` names it.
#[derive(Clone)]
pub struct ProviderConfig {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
}

/// What a sign-in page shows of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLink {
    pub id: String,
    pub name: String,
}

/// A sign-in started: the browser goes to `authorization_url`; the caller
/// keeps the rest until the provider sends the browser back.
pub struct Begun {
    pub authorization_url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no identity provider `{0}` is configured")]
    UnknownProvider(String),
    /// The provider did not answer, or not as an OpenID provider should:
    /// nothing the person can fix by trying differently right away.
    #[error("the identity provider could not be reached: {0}")]
    Unavailable(String),
    /// The provider's answer does not prove anyone (a bad or replayed code,
    /// an ID token that fails validation).
    #[error("the identity provider's answer was refused: {0}")]
    Refused(String),
}

impl From<OutboundError> for UpstreamError {
    fn from(error: OutboundError) -> Self {
        UpstreamError::Unavailable(error.to_string())
    }
}

/// The client type discovery builds: authorization endpoint set, token and
/// userinfo endpoints as the provider's document says.
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The claims enlist keeps of a person, from an ID token's claims or
/// userinfo's standard claims (the same getters on two types).
macro_rules! identity_of {
    ($issuer:expr, $subject:expr, $claims:expr) => {{
        let claims = $claims;
        ExternalIdentity {
            issuer: $issuer,
            subject: $subject,
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            given_name: claims
                .given_name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str().to_owned()),
            family_name: claims
                .family_name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str().to_owned()),
            name: claims
                .name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str().to_owned()),
            client: None,
        }
    }};
}

struct Discovery {
    metadata: CoreProviderMetadata,
    fetched_at: Millis,
}

struct Provider {
    config: ProviderConfig,
    redirect: RedirectUrl,
    discovery: Mutex<Option<Discovery>>,
    /// When discovery last failed, so a provider that is down is not asked
    /// on every page view.
    failed_at: Mutex<Option<Millis>>,
}

/// Every configured provider, with its discovery cached.
pub struct Providers {
    providers: Vec<Provider>,
    outbound: Arc<Outbound>,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Providers {
    /// `public_url` without a trailing slash: each provider's redirect URI
    /// is `{public_url}/auth/oidc/{id}/callback`.
    pub fn new(
        configs: Vec<ProviderConfig>,
        public_url: &str,
        outbound: Arc<Outbound>,
    ) -> Result<Self, String> {
        let providers = configs
            .into_iter()
            .map(|config| {
                let redirect =
                    RedirectUrl::new(format!("{public_url}/auth/oidc/{}/callback", config.id))
                        .map_err(|e| format!("auth.oidc_providers `{}`: {e}", config.id))?;
                Ok(Provider {
                    config,
                    redirect,
                    discovery: Mutex::new(None),
                    failed_at: Mutex::new(None),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            providers,
            outbound,
        })
    }

    /// The providers a sign-in page offers, in configuration order.
    pub fn links(&self) -> Vec<ProviderLink> {
        self.providers
            .iter()
            .map(|p| ProviderLink {
                id: p.config.id.clone(),
                name: p.config.name.clone(),
            })
            .collect()
    }

    /// Where a browser sent to a provider may land first: each issuer, and
    /// the authorization endpoint its cached discovery names (a page whose
    /// form leads there must allow it in its `form-action`).
    pub fn authorization_urls(&self) -> Vec<String> {
        let mut urls = Vec::new();
        for provider in &self.providers {
            urls.push(provider.config.issuer.clone());
            if let Ok(discovery) = provider.discovery.try_lock()
                && let Some(discovery) = discovery.as_ref()
            {
                urls.push(
                    discovery
                        .metadata
                        .authorization_endpoint()
                        .url()
                        .as_str()
                        .to_owned(),
                );
            }
        }
        urls
    }

    /// The provider's label, for pages that name it.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.find(id).ok().map(|p| p.config.name.as_str())
    }

    /// The id of the provider configured with this issuer, if any.
    pub fn id_for_issuer(&self, issuer: &str) -> Option<&str> {
        self.providers
            .iter()
            .find(|p| p.config.issuer == issuer)
            .map(|p| p.config.id.as_str())
    }

    fn find(&self, id: &str) -> Result<&Provider, UpstreamError> {
        self.providers
            .iter()
            .find(|p| p.config.id == id)
            .ok_or_else(|| UpstreamError::UnknownProvider(id.chars().take(32).collect()))
    }

    /// The provider's client, from its discovery document (fetched again
    /// once an hour; an old one serves while the provider is down).
    async fn client(
        &self,
        provider: &Provider,
        now: Millis,
    ) -> Result<DiscoveredClient, UpstreamError> {
        self.client_fresher_than(provider, now, DISCOVERY_FRESH)
            .await
    }

    /// The client from a discovery document (and key set) younger than `fresh`.
    async fn client_fresher_than(
        &self,
        provider: &Provider,
        now: Millis,
        fresh: Duration,
    ) -> Result<DiscoveredClient, UpstreamError> {
        let mut discovery = provider.discovery.lock().await;
        let age = |d: &Discovery| now.0.saturating_sub(d.fetched_at.0);
        let fresh = discovery.as_ref().is_some_and(|d| age(d) < millis(fresh));
        if !fresh {
            let mut failed_at = provider.failed_at.lock().await;
            let resting =
                failed_at.is_some_and(|at| now.0.saturating_sub(at.0) < millis(DISCOVERY_RETRY));
            let fetched = if resting {
                Err(UpstreamError::Unavailable(
                    "its discovery document failed moments ago".into(),
                ))
            } else {
                self.discover(&provider.config).await
            };
            match fetched {
                Ok(metadata) => {
                    *failed_at = None;
                    *discovery = Some(Discovery {
                        metadata,
                        fetched_at: now,
                    });
                }
                Err(error) => {
                    if !resting {
                        *failed_at = Some(now);
                    }
                    let usable = discovery
                        .as_ref()
                        .is_some_and(|d| age(d) < millis(DISCOVERY_STALE));
                    if !usable {
                        return Err(error);
                    }
                    tracing::warn!(provider = %provider.config.id, %error,
                        "identity provider discovery failed; using the last document");
                }
            }
        }
        let metadata = discovery
            .as_ref()
            .map(|d| d.metadata.clone())
            .ok_or_else(|| UpstreamError::Unavailable("no discovery document".into()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            Some(ClientSecret::new(provider.config.client_secret.clone())),
        )
        .set_redirect_uri(provider.redirect.clone()))
    }

    async fn discover(
        &self,
        config: &ProviderConfig,
    ) -> Result<CoreProviderMetadata, UpstreamError> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| UpstreamError::Unavailable(format!("issuer: {e}")))?;
        let http = |request| self.outbound.execute(request);
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("discovery: {}", error_chain(&e))))?;
        // Every endpoint the browser or enlist will reach must meet the
        // issuer's own rule (https, or http on loopback).
        let mut urls = vec![
            metadata.authorization_endpoint().url().as_str().to_owned(),
            metadata.jwks_uri().url().as_str().to_owned(),
        ];
        if let Some(token) = metadata.token_endpoint() {
            urls.push(token.url().as_str().to_owned());
        }
        if let Some(userinfo) = metadata.userinfo_endpoint() {
            urls.push(userinfo.url().as_str().to_owned());
        }
        for url in urls {
            let parsed = url::Url::parse(&url)
                .map_err(|why| UpstreamError::Unavailable(format!("{url}: {why}")))?;
            super::outbound::check_fetch_url(&parsed)
                .map_err(|why| UpstreamError::Unavailable(format!("{url}: {why}")))?;
        }
        // ID tokens are verified with the provider's published keys only.
        // openidconnect takes any algorithm the document lists, HS256 too,
        // keyed with the client secret: a token anyone holding a copy of
        // enlist's configuration could make. (`none` it never takes.)
        let public_key_algs: Vec<_> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|alg| alg.key_type().is_some() && !alg.uses_shared_secret())
            .cloned()
            .collect();
        if public_key_algs.is_empty() {
            return Err(UpstreamError::Unavailable(
                "it signs ID tokens with no public-key algorithm \
                 (id_token_signing_alg_values_supported)"
                    .into(),
            ));
        }
        Ok(metadata.set_id_token_signing_alg_values_supported(public_key_algs))
    }

    /// Starts a sign-in at provider `id`: where to send the browser, and the
    /// secrets to keep until it returns.
    pub async fn begin(&self, id: &str, now: Millis) -> Result<Begun, UpstreamError> {
        let provider = self.find(id)?;
        let client = self.client(provider, now).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &provider.config.scopes {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope.clone()));
            }
        }
        let (url, state, nonce) = request.url();
        Ok(Begun {
            authorization_url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: exchanges `code` (with the PKCE verifier), checks
    /// the ID token (signature, `iss`, `aud`, `exp`, `iat`, `nonce`), and
    /// answers the person, with the userinfo endpoint's email when the ID
    /// token carries none.
    pub async fn finish(
        &self,
        id: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: Millis,
    ) -> Result<ExternalIdentity, UpstreamError> {
        let provider = self.find(id)?;
        let client = self.client(provider, now).await?;
        let http = |request| self.outbound.execute(request);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| UpstreamError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| token_error(&e))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| UpstreamError::Refused("the token response has no id_token".into()))?;
        let at = chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default();
        // openidconnect takes any `iat`; one from the future is refused as
        // the trusted issuers' tokens are, with the same leeway.
        let latest_iat = at + chrono::TimeDelta::seconds(super::trusted::LEEWAY_SECS);
        let nonce = Nonce::new(nonce.to_owned());
        let rotated = matches!(
            id_token.claims(&verifier_of(&client, at, latest_iat), &nonce),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        );
        // A key the cached set lacks: the provider may have rotated since.
        let client = match rotated {
            true => {
                self.client_fresher_than(provider, now, KEYS_REFRESH_MIN)
                    .await?
            }
            false => client,
        };
        let verifier = verifier_of(&client, at, latest_iat);
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| UpstreamError::Refused(format!("ID token: {}", error_chain(&e))))?;
        let subject = claims.subject().as_str().to_owned();
        let mut identity = identity_of!(provider.config.issuer.clone(), subject, claims);
        // No email in the ID token: userinfo's, when the provider has that
        // endpoint. Without one the identity goes on without an email (an
        // identity linked before needs none; a new one is refused for it).
        let userinfo_request = client.user_info(
            AccessToken::new(tokens.access_token().secret().clone()),
            Some(claims.subject().clone()),
        );
        if identity.email.is_none()
            && let Ok(request) = userinfo_request
        {
            let userinfo: CoreUserInfoClaims =
                request.request_async(&http).await.map_err(|e| match e {
                    // Claims about someone other than the ID token's `sub`.
                    UserInfoError::ClaimsVerification(_) => {
                        UpstreamError::Refused(format!("userinfo: {}", error_chain(&e)))
                    }
                    _ => UpstreamError::Unavailable(format!("userinfo: {}", error_chain(&e))),
                })?;
            identity = identity_of!(
                identity.issuer,
                identity.subject,
                userinfo.standard_claims()
            );
        }
        Ok(identity)
    }
}

/// The ID token's verifier: the client's issuer, audience and keys, with
/// `at` as now and `iat` no later than `latest_iat`.
fn verifier_of(
    client: &DiscoveredClient,
    at: chrono::DateTime<chrono::Utc>,
    latest_iat: chrono::DateTime<chrono::Utc>,
) -> openidconnect::IdTokenVerifier<'_, openidconnect::core::CoreJsonWebKey> {
    client
        .id_token_verifier()
        .set_time_fn(move || at)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > latest_iat {
                Err(format!("issued in the future ({iat})"))
            } else {
                Ok(())
            }
        })
}

fn token_error<RE, T>(error: &openidconnect::RequestTokenError<RE, T>) -> UpstreamError
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match error {
        // The provider said no: a used, expired or foreign code.
        openidconnect::RequestTokenError::ServerResponse(response) => {
            UpstreamError::Refused(format!("token endpoint: {response}"))
        }
        other => UpstreamError::Unavailable(format!("token endpoint: {}", error_chain(other))),
    }
}

/// An error and its causes, for logs.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
