//! Bearer JWTs from issuers the operator trusts (`[[auth.trusted_issuers]]`):
//! a token another identity provider signed is accepted on the invitee API
//! when that provider is configured, the token is for the configured
//! audience, and it verifies under one of the keys the provider publishes.
//!
//! Who decides what:
//! - The token's `iss` only routes: it picks the configured issuer whose
//!   keys are tried. It must equal the configured string exactly, as
//!   OpenID Connect compares issuers; a trailing slash is not forgiven
//!   (`https://idp/` and `https://idp` are different issuers to every
//!   conforming party, and the identity stored is `(issuer, subject)`, so
//!   two spellings would be two people). A near miss is logged, to make
//!   the misconfiguration obvious.
//! - The key decides the algorithm, never the token: the JWK's `alg`, or
//!   the one its type allows. The token's `alg` must equal it. HMAC is
//!   never accepted (a published key is public; an HMAC "signed" with it
//!   proves nothing), nor `none`, nor keys meant for encryption. Keys come
//!   only from the configured or discovered `jwks_uri`: the token's own
//!   `jku`, `jwk` and `x5u` headers are ignored.
//! - Time is the caller's `now` ([`Millis`], the application clock), for
//!   expiry and for the key cache, so tests move it instead of sleeping.
//!
//! Keys are kept per issuer, refetched when an hour old or when a token
//! names a `kid` not in them, but at most once a minute per issuer (an
//! unknown `kid` is free to send, a fetch is not). While the provider
//! cannot be reached, the keys in hand serve for up to a day.

use super::ExternalIdentity;
use super::outbound::{Outbound, check_fetch_url, check_issuer_url};
use crate::domain::Millis;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, RwLock};
use url::Url;

/// Clock skew forgiven on `exp`, `nbf` and `iat`. A provider's clock and
/// ours disagree by seconds, and a token refused for that is a sign-in
/// failing for no reason anyone can see; a minute is what jsonwebtoken
/// and openidconnect default to, and it lengthens a stolen token's life by
/// no more than that.
pub const LEEWAY_SECS: i64 = 60;

/// Keys older than this are refetched before use (providers rotate on a
/// schedule and publish the next key ahead of using it).
const REFRESH_AFTER_MS: i64 = 60 * 60 * 1000;
/// The least time between two fetches of one issuer's keys, whatever
/// tokens arrive: an unknown `kid` costs its sender nothing.
const REFETCH_INTERVAL_MS: i64 = 60 * 1000;
/// How long keys that could not be refreshed are still used.
const KEYS_LAST_MS: i64 = 24 * 60 * 60 * 1000;
/// RSA keys shorter than 2048 bits are not used (NIST SP 800-131A).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// One trusted issuer as configured.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// The issuer identifier, exactly as its tokens' `iss` spells it.
    pub issuer: String,
    /// What the tokens' `aud` must contain.
    pub audience: String,
    /// Where the keys are; without it, the `jwks_uri` of the issuer's
    /// discovery document (`{issuer}/.well-known/openid-configuration`).
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

/// Why a token was refused. Every variant is a 401 at the edge; the
/// messages are specific for the logs, and hold nothing of the token but
/// algorithm names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("the token's issuer is not a trusted issuer")]
    NotTrusted,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("the issuer's keys are unavailable: {0}")]
    KeysUnavailable(String),
}

fn invalid(why: &str) -> TrustError {
    TrustError::Invalid(why.to_owned())
}

/// The configured issuers, each with its keys as last fetched.
pub struct TrustedIssuers {
    issuers: Vec<Issuer>,
    outbound: Arc<Outbound>,
}

impl std::fmt::Debug for TrustedIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuers")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|issuer| issuer.config.issuer.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

struct Issuer {
    config: TrustedIssuer,
    keys_from: KeySource,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching, so that tokens arriving meanwhile wait for the
    /// one fetch instead of each starting their own.
    attempts: tokio::sync::Mutex<Attempts>,
}

enum KeySource {
    Jwks(Url),
    /// The discovery document, read again at every fetch (so a provider
    /// that moves its keys is followed).
    Discovery(Url),
}

#[derive(Default)]
struct Attempts {
    last: Option<Millis>,
    /// Why the last fetch failed; cleared by one that succeeds.
    error: Option<String>,
}

impl Attempts {
    fn may_fetch(&self, now: Millis) -> bool {
        match self.last {
            None => true,
            // A clock set back by more than the interval must not stop
            // fetches until it catches up; a few milliseconds behind (a
            // request that read the clock before the one that fetched)
            // must not start another.
            Some(last) => {
                let since = now.0.saturating_sub(last.0);
                !(-REFETCH_INTERVAL_MS + 1..REFETCH_INTERVAL_MS).contains(&since)
            }
        }
    }
}

struct KeySet {
    fetched_at: Millis,
    keys: Vec<VerificationKey>,
}

struct VerificationKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

impl KeySet {
    fn age(&self, now: Millis) -> i64 {
        now.0.saturating_sub(self.fetched_at.0).max(0)
    }

    /// The key a token names; a token naming none may use the only one.
    fn find(&self, kid: Option<&str>) -> Option<&VerificationKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid.as_deref() == Some(kid)),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}

impl Issuer {
    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(keys));
    }
}

impl TrustedIssuers {
    /// Checks the configuration: every issuer and `jwks_uri` by the rule
    /// of [`check_issuer_url`] / [`check_fetch_url`], an audience for
    /// each, no issuer twice. Fetches nothing: a provider that is down at
    /// startup only makes its tokens wait.
    pub fn new(issuers: Vec<TrustedIssuer>, outbound: Arc<Outbound>) -> Result<Self, String> {
        let mut checked: Vec<Issuer> = Vec::with_capacity(issuers.len());
        for (n, config) in issuers.into_iter().enumerate() {
            let position = n + 1;
            check_issuer_url(&config.issuer)
                .map_err(|why| format!("trusted issuer {position}: {why}"))?;
            // Past the check, the issuer holds no credentials to hide.
            let named = |why: &str| format!("trusted issuer {}: {why}", config.issuer);
            if config.audience.trim().is_empty() {
                return Err(named("the audience is empty"));
            }
            if checked.iter().any(|c| c.config.issuer == config.issuer) {
                return Err(named("it is listed twice"));
            }
            let keys_from = match &config.jwks_uri {
                Some(raw) => {
                    let url = Url::parse(raw)
                        .map_err(|e| named(&format!("jwks_uri is not a URL: {e}")))?;
                    check_fetch_url(&url).map_err(|why| named(&format!("jwks_uri: {why}")))?;
                    KeySource::Jwks(url)
                }
                None => KeySource::Discovery(discovery_url(&config.issuer).map_err(|e| named(&e))?),
            };
            checked.push(Issuer {
                config,
                keys_from,
                keys: RwLock::new(None),
                attempts: tokio::sync::Mutex::new(Attempts::default()),
            });
        }
        Ok(Self {
            issuers: checked,
            outbound,
        })
    }

    /// Whether tokens claiming `iss` are checked here (exact match).
    pub fn is_trusted(&self, iss: &str) -> bool {
        self.issuers
            .iter()
            .any(|issuer| issuer.config.issuer == iss)
    }

    fn issuer(&self, iss: &str) -> Result<&Issuer, TrustError> {
        if let Some(issuer) = self.issuers.iter().find(|i| i.config.issuer == iss) {
            return Ok(issuer);
        }
        let trimmed = iss.trim_end_matches('/');
        if let Some(near) = self
            .issuers
            .iter()
            .find(|i| i.config.issuer.trim_end_matches('/') == trimmed)
        {
            tracing::warn!(
                configured = %near.config.issuer,
                "a token's iss differs from a trusted issuer only by a trailing slash; \
                 issuers are compared exactly, so configure it as the tokens spell it"
            );
        }
        Err(TrustError::NotTrusted)
    }

    /// The identity a token from a trusted issuer vouches for, once its
    /// signature, audience and times are checked against `now`.
    pub async fn verify(&self, token: &str, now: Millis) -> Result<ExternalIdentity, TrustError> {
        let iss =
            claims_issuer(token).ok_or_else(|| invalid("not a signed JWT with an iss claim"))?;
        let issuer = self.issuer(&iss)?;
        // An unknown algorithm (`none` among them) fails to parse here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            invalid("the header is unreadable or names an algorithm that is not accepted")
        })?;
        if header.crit.is_some() {
            return Err(invalid("the header names critical extensions (crit)"));
        }
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(invalid("HMAC-signed tokens are not accepted"));
        }
        let kid = header.kid.as_deref();
        let keys = self.keys_for(issuer, kid, now).await?;
        let key = keys.find(kid).ok_or_else(|| match kid {
            Some(_) => invalid("no key of the issuer has the token's kid"),
            None => invalid("the token names no key (kid) and the issuer publishes several"),
        })?;
        if header.alg != key.algorithm {
            return Err(TrustError::Invalid(format!(
                "the token says {:?} but its key is for {:?}",
                header.alg, key.algorithm
            )));
        }
        let mut validation = Validation::new(key.algorithm);
        // Claims are checked below, against `now` and the configuration.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(refused)?
            .claims;
        check_claims(&claims, &issuer.config, now)?;
        Ok(identity(claims, &issuer.config))
    }

    /// The issuer's keys, fetched first when there are none, when they are
    /// an hour old, or when none has this `kid`, if the last fetch was at
    /// least a minute ago.
    async fn keys_for(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        now: Millis,
    ) -> Result<Arc<KeySet>, TrustError> {
        if let Some(keys) = issuer.cached()
            && keys.find(kid).is_some()
        {
            if keys.age(now) < REFRESH_AFTER_MS {
                return Ok(keys);
            }
            // Due for its hourly refresh but still good: while another
            // token is refreshing it (up to the fetch timeout, twice with
            // discovery), this one need not wait.
            if keys.age(now) <= KEYS_LAST_MS && issuer.attempts.try_lock().is_err() {
                return Ok(keys);
            }
        }
        let mut attempts = issuer.attempts.lock().await;
        if attempts.may_fetch(now) {
            attempts.last = Some(now);
            match self.fetch_keys(issuer, now).await {
                Ok(keys) => {
                    attempts.error = None;
                    issuer.store(keys);
                }
                Err(error) => {
                    tracing::warn!(
                        issuer = %issuer.config.issuer,
                        %error,
                        "cannot fetch a trusted issuer's keys"
                    );
                    attempts.error = Some(error);
                }
            }
        }
        let failure = || {
            attempts
                .error
                .clone()
                .unwrap_or_else(|| "they were never fetched".to_owned())
        };
        let Some(keys) = issuer.cached() else {
            return Err(TrustError::KeysUnavailable(failure()));
        };
        if keys.age(now) > KEYS_LAST_MS {
            return Err(TrustError::KeysUnavailable(format!(
                "the keys in hand are over a day old, and refreshing them failed: {}",
                failure()
            )));
        }
        Ok(keys)
    }

    async fn fetch_keys(&self, issuer: &Issuer, now: Millis) -> Result<KeySet, String> {
        let jwks_uri = match &issuer.keys_from {
            KeySource::Jwks(url) => url.clone(),
            KeySource::Discovery(url) => {
                let document: Discovery = self
                    .outbound
                    .get_json(url)
                    .await
                    .map_err(|e| format!("the discovery document: {e}"))?;
                // OpenID Connect Discovery 1.0, section 4.3: the document
                // must be the issuer's own.
                if document.issuer != issuer.config.issuer {
                    return Err("the discovery document names another issuer".to_owned());
                }
                let url = Url::parse(&document.jwks_uri)
                    .map_err(|e| format!("the discovery document's jwks_uri is not a URL: {e}"))?;
                check_fetch_url(&url)
                    .map_err(|why| format!("the discovery document's jwks_uri: {why}"))?;
                url
            }
        };
        let document: Value = self
            .outbound
            .get_json(&jwks_uri)
            .await
            .map_err(|e| format!("the key set: {e}"))?;
        key_set(&document, now)
    }
}

/// OpenID Connect Discovery 1.0, section 4: a trailing slash of the issuer
/// is dropped before the well-known suffix.
fn discovery_url(issuer: &str) -> Result<Url, String> {
    let raw = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    Url::parse(&raw).map_err(|e| format!("no discovery URL follows from the issuer: {e}"))
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// The usable keys of a JWKS. A key this server cannot or must not use
/// (encryption, HMAC, an unknown type or curve) is left out, not fatal:
/// providers publish keys for other parties beside the signing ones.
fn key_set(document: &Value, fetched_at: Millis) -> Result<KeySet, String> {
    let listed = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "the key set has no `keys` list".to_owned())?;
    let keys = listed
        .iter()
        .filter_map(|value| {
            let usable = serde_json::from_value::<Jwk>(value.clone())
                .map_err(|_| "it is not a JWK")
                .and_then(|jwk| verification_key(&jwk));
            match usable {
                Ok(key) => Some(key),
                Err(why) => {
                    tracing::debug!(why, "a key of a trusted issuer is left out");
                    None
                }
            }
        })
        .collect();
    Ok(KeySet { fetched_at, keys })
}

/// A JWK as a key to verify signatures with, and the one algorithm it
/// verifies: the JWK's `alg` if it names one its type allows, else the
/// type's usual one.
fn verification_key(jwk: &Jwk) -> Result<VerificationKey, &'static str> {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|used| *used != PublicKeyUse::Signature)
    {
        return Err("its use is not sig");
    }
    if let Some(operations) = &common.key_operations
        && !operations.contains(&KeyOperations::Verify)
    {
        return Err("its key_ops do not include verify");
    }
    let allowed: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let modulus = URL_SAFE_NO_PAD
                .decode(&rsa.n)
                .map_err(|_| "its modulus is not base64url")?;
            if modulus.iter().skip_while(|byte| **byte == 0).count() < MIN_RSA_MODULUS_BYTES {
                return Err("its RSA modulus is shorter than 2048 bits");
            }
            &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ]
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return Err("its curve is not P-256 or P-384"),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
            _ => return Err("its curve is not Ed25519"),
        },
        AlgorithmParameters::OctetKey(_) => return Err("it is a symmetric (HMAC) key"),
        _ => return Err("its key type is not RSA, EC or OKP"),
    };
    let algorithm = match common.key_algorithm {
        Some(named) => {
            let algorithm =
                Algorithm::try_from(named).map_err(|_| "its alg is not a signature algorithm")?;
            if !allowed.contains(&algorithm) {
                return Err("its alg does not fit its key type");
            }
            algorithm
        }
        None => *allowed.first().ok_or("its key type has no algorithm")?,
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "its parameters do not decode")?;
    Ok(VerificationKey {
        kid: common.key_id.clone(),
        algorithm,
        key,
    })
}

/// The `iss` of a compact JWS, unverified: only to pick whose keys to try.
pub fn claims_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issued {
        iss: String,
    }
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    // Five parts would be an encrypted token (JWE), which is not accepted.
    if parts.next().is_some() {
        return None;
    }
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Issued>(&payload)
        .ok()
        .map(|c| c.iss)
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    // NumericDate: seconds, which RFC 7519 allows to have a fraction.
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    // Profile claims are read leniently: one of an odd type is absent,
    // not a reason to refuse the token.
    email: Option<Value>,
    email_verified: Option<Value>,
    given_name: Option<Value>,
    family_name: Option<Value>,
    name: Option<Value>,
    azp: Option<Value>,
    client_id: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|one| one == audience),
        }
    }
}

fn millis(seconds: f64) -> i64 {
    // `as` saturates, and JSON holds no NaN.
    (seconds * 1000.0) as i64
}

fn check_claims(claims: &Claims, config: &TrustedIssuer, now: Millis) -> Result<(), TrustError> {
    let leeway = LEEWAY_SECS * 1000;
    // The payload the signature covers named this issuer to get here;
    // checked again so that no other path can skip it.
    if claims.iss.as_deref() != Some(config.issuer.as_str()) {
        return Err(invalid("the iss is not the issuer whose key verified it"));
    }
    if !claims
        .aud
        .as_ref()
        .is_some_and(|aud| aud.contains(&config.audience))
    {
        return Err(invalid("the aud does not name this service's audience"));
    }
    let exp = claims.exp.ok_or_else(|| invalid("the token has no exp"))?;
    if now.0 >= millis(exp).saturating_add(leeway) {
        return Err(invalid("the token has expired"));
    }
    if let Some(nbf) = claims.nbf
        && millis(nbf) > now.0.saturating_add(leeway)
    {
        return Err(invalid("the token is not valid yet (nbf)"));
    }
    if let Some(iat) = claims.iat
        && millis(iat) > now.0.saturating_add(leeway)
    {
        return Err(invalid("the token was issued in the future (iat)"));
    }
    if claims.sub.as_deref().is_none_or(str::is_empty) {
        return Err(invalid("the token has no sub"));
    }
    Ok(())
}

fn text(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(text)) if !text.is_empty() => Some(text),
        _ => None,
    }
}

fn identity(claims: Claims, config: &TrustedIssuer) -> ExternalIdentity {
    ExternalIdentity {
        issuer: config.issuer.clone(),
        subject: claims.sub.unwrap_or_default(),
        email: text(claims.email),
        // A JSON true, or the string "true": some providers (Amazon
        // Cognito among them) send the claim as a string, and "true" says
        // nothing else. Anything other ("yes", 1, "True") counts as not
        // verified.
        email_verified: matches!(claims.email_verified, Some(Value::Bool(true)))
            || matches!(&claims.email_verified, Some(Value::String(s)) if s == "true"),
        given_name: text(claims.given_name),
        family_name: text(claims.family_name),
        name: text(claims.name),
        client: text(claims.azp).or_else(|| text(claims.client_id)),
    }
}

/// What a failed verification says, without the library's text.
fn refused(error: jsonwebtoken::errors::Error) -> TrustError {
    use jsonwebtoken::errors::ErrorKind;
    invalid(match error.kind() {
        ErrorKind::InvalidSignature => "the signature does not verify",
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm => "the algorithm does not fit the key",
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            "the claims are not as expected (a string sub and aud, numeric times)"
        }
        ErrorKind::Base64(_) => "the token is not base64url",
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => "the issuer's key cannot verify it",
        _ => "the token is malformed",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::Ed25519Key;
    use crate::federation::outbound::OutboundLimits;
    use crate::federation::test_idp::{Reply, TestServer};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use std::time::Duration;

    const AUDIENCE: &str = "enlist-invitee-api";
    const DISCOVERY: &str = "/.well-known/openid-configuration";
    const MINUTE: Duration = Duration::from_secs(60);

    /// RSA-2048 (PKCS#1 DER) and P-256 (PKCS#8 DER) test keys, made once
    /// with openssl: jsonwebtoken signs with them but cannot generate them.
    const RSA_PKCS1: &str = "MIIEpAIBAAKCAQEArY+2sSsFi8S5hsbTjIrXnRPbBVuLCCauhGHVz1vpoml5CEx7YikucyuxQQTk3eHhVqlAAYx3lCO2QnCW\
7Y28VC2esJc03VfaEAUQvLFGaFgmyAkSwn54aDHt+0aEA/+IMIDqgo3KA98TTO5EJlvEk6CWFQpkEccQBuAAF0SQr7jq4uBJ\
8zqwLM4FJ7/qo2AiSC/IFbK9IWpHPZvFzh/JcDAd8QUftdi60RNOzUzOq6EStP/G0rVZMw/wXAZFt4Lzsab9wfgFTd/jsTvv\
IvtjXLP+iPEF1hGOKDeN27HiUV9BfqBMC2MOoRev7eGT4O7zXv8C+LnTYcpA6OxsOnZMAwIDAQABAoIBAAy6+NR/6lU5Jb6M\
AOJTIMOFvE/lSgpcA/rzziH6hOWDxPvl2Dr3+E88SjERsdPQiJ25plc2vWKhR/IRnhBokALAod4kCR2fHwCDzpl4i0iGBrov\
aC/Z5O0HlIQUxQQiDxQ3sHvI+KNWDm1bIKaLnpyRb9C1RWfEaRmH/pm2TsKEt5kzAOBvuoOxCj2MM1fvqqBtCywGCFiUMZyW\
qbpP2Oe/C6J/nxp0bkihXTHxEo8bGf2LnUZwnth+evDKAAf6kenX4+WVkhpJUkuRvvd/+rjHYcq/hhIIGwhrOnQUNuEfR/4Z\
lrFoiVOJc15pph9z0BYOdwNnwApHaYfCGXX3D3kCgYEA7YfPNEpTmVVTYZcJUf07J0RM73vvS23TNtb/aw/QogVu0iJXc8HC\
ZlLKBkI+HyUiD/GEGH4LdiW7H1cVk5VVIbvEixppNjEbxpGW70eKdZo5OJ070tApfzi2PVHuqpNN4e9+3EJvbY2G0T34NXlH\
y2c5Z5OGceim1ibeRi3zPF8CgYEAuw6PPkU6pmWJIMqUJUo5gdqGJj5rSU0Y8cpYEFi4UoXCIL9vAs80syAYgq6eLtmldM2E\
KH8PiWqr0CciLg+B6qYr2RfZYjZOY0RjhQlZso1gzqXRzqjppw8gBfa9ybLE5FvC3ZkrS6aCmjUoBazxJx9rA/Fve5Eh758x\
SSQTkt0CgYA/jpdi5oB4BtzIwCE+TwQE/cGYUxE0na5mfiDaBOFOeSWuFIJR9waNWpm0EwWMT+NNYNJ3u0JV2sK3IBYl509g\
N13f2rFMTtefylUYsYva6+ljvK7FOe3gnMwmnEXAXqn4Sp0nUp9+MOBiHLLNnCYZxwUVMeRHlnkN1FilbqYnAQKBgQCh3wqU\
X4JOhmUxTD0BPAch2QHnzHI5P4+LhYfJtYzkVL3WavLc4oR/UhID3KokbtHgjwyDotjGGNpPyd2pMGBDt8MQHbRPaiFRg9f/\
Q0Us321bxmEWTlPL7qnOn2RDTAFYgBPUgfzWfWRdoAxfRPZ23ZhVFDReIQzV+NPEsISDvQKBgQDZn2NI9JMiN/W9ryKl4OjN\
S2e1dQa0yaXSl+J6OHM/3meE3zryGTmReeVCm8sKNsNnvl8i1YmQvZRQ0CwEmFhHtI9MMz4I3mGfVbcNuoPYaXmsCoanTtcC\
vyBJPwozDREa9XfvHevz/i51BHpNQYDu2e+vti2Q1/hSlY7KMtQ2pg==";
    const P256_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgb4xjmVZ6fT4T5vERX3NIGDZsFAfA7HYnGlqpRWyWkVahRANCAASL32tI+Gchp5PW2Ei4NrMzFvo07k71OUknvTmLC7JEnY757jz5IZkEpH5SYe77QaoWUzFxAZtiNjRkQvrtoQ++";

    /// A signing key of the test provider and its public JWK.
    struct TestKey {
        kid: String,
        algorithm: Algorithm,
        encoding: EncodingKey,
        jwk: Value,
    }

    impl TestKey {
        fn ed25519(kid: &str) -> Self {
            let key = Ed25519Key::generate();
            let encoding = EncodingKey::from_ed_der(&key.to_pkcs8_der().unwrap());
            // Built by hand: `Jwk::from_encoding_key` wants the shorter
            // PKCS#8 form, without the public key that ours carries.
            let jwk = json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA",
                "x": URL_SAFE_NO_PAD.encode(key.public_key()),
            });
            Self::with_jwk(kid, Algorithm::EdDSA, encoding, jwk)
        }

        fn rsa(kid: &str) -> Self {
            let der = base64::engine::general_purpose::STANDARD
                .decode(RSA_PKCS1)
                .unwrap();
            Self::new(kid, Algorithm::RS256, EncodingKey::from_rsa_der(&der))
        }

        fn p256(kid: &str) -> Self {
            let der = base64::engine::general_purpose::STANDARD
                .decode(P256_PKCS8)
                .unwrap();
            Self::new(kid, Algorithm::ES256, EncodingKey::from_ec_der(&der))
        }

        fn new(kid: &str, algorithm: Algorithm, encoding: EncodingKey) -> Self {
            let jwk = Jwk::from_encoding_key(&encoding, algorithm).unwrap();
            Self::with_jwk(kid, algorithm, encoding, serde_json::to_value(jwk).unwrap())
        }

        fn with_jwk(
            kid: &str,
            algorithm: Algorithm,
            encoding: EncodingKey,
            mut jwk: Value,
        ) -> Self {
            jwk["kid"] = json!(kid);
            jwk["use"] = json!("sig");
            Self {
                kid: kid.to_owned(),
                algorithm,
                encoding,
                jwk,
            }
        }

        /// The JWK without `alg`, so that its type decides.
        fn jwk_without_alg(&self) -> Value {
            let mut jwk = self.jwk.clone();
            jwk.as_object_mut().unwrap().remove("alg");
            jwk
        }

        fn sign(&self, claims: &Value) -> String {
            self.sign_as(self.algorithm, Some(&self.kid), claims)
        }

        fn sign_as(&self, algorithm: Algorithm, kid: Option<&str>, claims: &Value) -> String {
            let mut header = Header::new(algorithm);
            header.kid = kid.map(str::to_owned);
            jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
        }
    }

    /// A provider on 127.0.0.1: discovery document, key set, counts.
    struct TestIdp {
        server: TestServer,
        issuer: String,
    }

    impl TestIdp {
        async fn start(keys: &[&TestKey]) -> Self {
            let server = TestServer::start().await;
            let issuer = server.url("");
            let idp = Self { server, issuer };
            idp.server.set(
                DISCOVERY,
                Reply::json(
                    &json!({
                        "issuer": idp.issuer,
                        "jwks_uri": idp.server.url("/jwks"),
                        "authorization_endpoint": idp.server.url("/authorize"),
                    })
                    .to_string(),
                ),
            );
            idp.publish(keys);
            idp
        }

        fn publish(&self, keys: &[&TestKey]) {
            self.publish_jwks(keys.iter().map(|key| key.jwk.clone()).collect());
        }

        fn publish_jwks(&self, jwks: Vec<Value>) {
            self.server
                .set("/jwks", Reply::json(&json!({ "keys": jwks }).to_string()));
        }

        fn jwks_fetches(&self) -> usize {
            self.server.hits("/jwks")
        }

        fn config(&self) -> TrustedIssuer {
            TrustedIssuer {
                issuer: self.issuer.clone(),
                audience: AUDIENCE.to_owned(),
                jwks_uri: None,
            }
        }

        fn trusted(&self) -> TrustedIssuers {
            trusted(vec![self.config()])
        }

        fn claims(&self, now: Millis) -> Value {
            let now = now.0 / 1000;
            json!({
                "iss": self.issuer,
                "sub": "user-1",
                "aud": AUDIENCE,
                "iat": now,
                "exp": now + 300,
                "email": "ada@example.com",
                "email_verified": true,
                "given_name": "Ada",
                "family_name": "Lovelace",
                "name": "Ada Lovelace",
                "azp": "partner-app",
            })
        }
    }

    fn trusted(issuers: Vec<TrustedIssuer>) -> TrustedIssuers {
        let outbound = Outbound::new(OutboundLimits::default()).unwrap();
        TrustedIssuers::new(issuers, Arc::new(outbound)).unwrap()
    }

    fn is_invalid(result: &Result<ExternalIdentity, TrustError>) -> bool {
        matches!(result, Err(TrustError::Invalid(_)))
    }

    #[tokio::test]
    async fn accepts_a_valid_token_and_reads_who_it_names() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        let token = key.sign(&idp.claims(now));

        assert_eq!(claims_issuer(&token).as_deref(), Some(idp.issuer.as_str()));
        assert!(trusted.is_trusted(&idp.issuer));
        let identity = trusted.verify(&token, now).await.unwrap();
        assert_eq!(
            identity,
            ExternalIdentity {
                issuer: idp.issuer.clone(),
                subject: "user-1".to_owned(),
                email: Some("ada@example.com".to_owned()),
                email_verified: true,
                given_name: Some("Ada".to_owned()),
                family_name: Some("Lovelace".to_owned()),
                name: Some("Ada Lovelace".to_owned()),
                client: Some("partner-app".to_owned()),
            }
        );
        // The keys are kept: a second token fetches nothing.
        trusted.verify(&token, now.plus(MINUTE)).await.unwrap();
        assert_eq!(idp.server.hits(DISCOVERY), 1);
        assert_eq!(idp.jwks_fetches(), 1);
    }

    #[tokio::test]
    async fn the_audience_must_be_named_as_a_string_or_in_a_list() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        let mut claims = idp.claims(now);
        for (aud, accepted) in [
            (json!("someone-else"), false),
            (json!(["someone-else", AUDIENCE]), true),
            (json!(["someone-else"]), false),
            (json!([]), false),
            (Value::Null, false),
        ] {
            claims["aud"] = aud.clone();
            let result = trusted.verify(&key.sign(&claims), now).await;
            assert_eq!(result.is_ok(), accepted, "{aud}: {result:?}");
        }
    }

    #[tokio::test]
    async fn times_follow_the_callers_clock_with_a_minute_of_leeway() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        let token = key.sign(&idp.claims(now)); // exp = now + 300 s
        assert!(
            trusted
                .verify(&token, now.plus(Duration::from_secs(330)))
                .await
                .is_ok()
        );
        let late = trusted
            .verify(&token, now.plus(Duration::from_secs(361)))
            .await;
        assert_eq!(late, Err(invalid("the token has expired")));

        let mut claims = idp.claims(now);
        claims["nbf"] = json!(now.0 / 1000 + 120);
        let early = key.sign(&claims);
        assert_eq!(
            trusted.verify(&early, now).await,
            Err(invalid("the token is not valid yet (nbf)"))
        );
        assert!(trusted.verify(&early, now.plus(MINUTE)).await.is_ok());

        let mut claims = idp.claims(now);
        claims["iat"] = json!(now.0 / 1000 + 120);
        assert_eq!(
            trusted.verify(&key.sign(&claims), now).await,
            Err(invalid("the token was issued in the future (iat)"))
        );

        // Fractional seconds are allowed (RFC 7519 NumericDate).
        let mut claims = idp.claims(now);
        claims["exp"] = json!(now.0 as f64 / 1000.0 + 10.5);
        assert!(trusted.verify(&key.sign(&claims), now).await.is_ok());
    }

    #[tokio::test]
    async fn exp_and_sub_are_required() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        for (claim, value) in [
            ("exp", Value::Null),
            ("sub", Value::Null),
            ("sub", json!("")),
            ("sub", json!(42)),
            ("exp", json!("tomorrow")),
        ] {
            let mut claims = idp.claims(now);
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(claim);
            } else {
                claims[claim] = value.clone();
            }
            let result = trusted.verify(&key.sign(&claims), now).await;
            assert!(is_invalid(&result), "{claim}={value}: {result:?}");
        }
    }

    #[tokio::test]
    async fn email_verified_is_true_only_when_said_so() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        for (said, verified) in [
            (json!(true), true),
            (json!("true"), true),
            (json!(false), false),
            (json!("True"), false),
            (json!("yes"), false),
            (json!(1), false),
            (Value::Null, false),
        ] {
            let mut claims = idp.claims(now);
            claims["email_verified"] = said.clone();
            let identity = trusted.verify(&key.sign(&claims), now).await.unwrap();
            assert_eq!(identity.email_verified, verified, "{said}");
        }
        // Odd profile claims are left out, not fatal; client_id stands in for azp.
        let mut claims = idp.claims(now);
        claims["email"] = json!(["a@example.com"]);
        claims["name"] = json!("");
        claims.as_object_mut().unwrap().remove("azp");
        claims["client_id"] = json!("m2m-client");
        let identity = trusted.verify(&key.sign(&claims), now).await.unwrap();
        assert_eq!(identity.email, None);
        assert_eq!(identity.name, None);
        assert_eq!(identity.client.as_deref(), Some("m2m-client"));
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_once_a_minute_at_most() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        trusted
            .verify(&key.sign(&idp.claims(now)), now)
            .await
            .unwrap();
        assert_eq!(idp.jwks_fetches(), 1);

        // Signed by the known key, naming kids nobody published.
        let later = now.plus(2 * MINUTE);
        let claims = idp.claims(later);
        let stray = key.sign_as(Algorithm::EdDSA, Some("stray-1"), &claims);
        assert_eq!(
            trusted.verify(&stray, later).await,
            Err(invalid("no key of the issuer has the token's kid"))
        );
        assert_eq!(idp.jwks_fetches(), 2, "an unknown kid refetches");

        let soon = later.plus(Duration::from_secs(30));
        let stray = key.sign_as(Algorithm::EdDSA, Some("stray-2"), &claims);
        assert!(is_invalid(&trusted.verify(&stray, soon).await));
        assert_eq!(idp.jwks_fetches(), 2, "not again within a minute");
        // The known key still works meanwhile, from the cache.
        assert!(trusted.verify(&key.sign(&claims), soon).await.is_ok());

        let after = later.plus(MINUTE);
        assert!(is_invalid(&trusted.verify(&stray, after).await));
        assert_eq!(idp.jwks_fetches(), 3, "again once the minute is over");
    }

    #[tokio::test]
    async fn a_key_rotated_at_the_provider_is_picked_up() {
        let old = TestKey::ed25519("old");
        let idp = TestIdp::start(&[&old]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        trusted
            .verify(&old.sign(&idp.claims(now)), now)
            .await
            .unwrap();

        let new = TestKey::rsa("new");
        idp.publish(&[&new]);
        let later = now.plus(2 * MINUTE);
        let identity = trusted.verify(&new.sign(&idp.claims(later)), later).await;
        assert_eq!(identity.unwrap().subject, "user-1");
        assert_eq!(idp.jwks_fetches(), 2);
        // The old key is gone from the set, and so are its tokens.
        assert!(is_invalid(
            &trusted.verify(&old.sign(&idp.claims(later)), later).await
        ));
    }

    #[tokio::test]
    async fn keys_are_refetched_hourly_and_outlive_a_down_provider_for_a_day() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        trusted
            .verify(&key.sign(&idp.claims(now)), now)
            .await
            .unwrap();
        let in_an_hour = now.plus(Duration::from_secs(3601));
        trusted
            .verify(&key.sign(&idp.claims(in_an_hour)), in_an_hour)
            .await
            .unwrap();
        assert_eq!(idp.jwks_fetches(), 2, "an hour-old set is refetched");

        idp.server.set("/jwks", Reply::status(503, "{}"));
        let hours = |n: u64| in_an_hour.plus(Duration::from_secs(n * 3600));
        for at in [hours(2), hours(23)] {
            assert!(trusted.verify(&key.sign(&idp.claims(at)), at).await.is_ok());
        }
        assert_eq!(idp.jwks_fetches(), 4, "each use of a stale set tries again");
        let too_old = hours(25);
        let result = trusted
            .verify(&key.sign(&idp.claims(too_old)), too_old)
            .await;
        keys_unavailable(result, |why| why.contains("503"));
        idp.publish(&[&key]);
        let back = hours(26);
        assert!(
            trusted
                .verify(&key.sign(&idp.claims(back)), back)
                .await
                .is_ok()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_slow_refresh_does_not_hold_up_tokens_the_old_keys_verify() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let limits = OutboundLimits {
            timeout: Duration::from_millis(1500),
            ..OutboundLimits::default()
        };
        let trusted = Arc::new(
            TrustedIssuers::new(vec![idp.config()], Arc::new(Outbound::new(limits).unwrap()))
                .unwrap(),
        );
        let now = Millis::now();
        trusted
            .verify(&key.sign(&idp.claims(now)), now)
            .await
            .unwrap();

        idp.server.set("/jwks", Reply::Hang);
        let later = now.plus(Duration::from_secs(2 * 3600));
        let token = key.sign(&idp.claims(later));
        let refreshing = {
            let (trusted, token) = (trusted.clone(), token.clone());
            tokio::spawn(async move { trusted.verify(&token, later).await })
        };
        while idp.jwks_fetches() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = std::time::Instant::now();
        assert!(trusted.verify(&token, later).await.is_ok());
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(!refreshing.is_finished(), "the refresh is still waiting");
        // The refresh times out, and its token is served by the old keys.
        assert!(refreshing.await.unwrap().is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_fetch_once() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = Arc::new(idp.trusted());
        let now = Millis::now();
        let token = key.sign(&idp.claims(now));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let trusted = trusted.clone();
                let token = token.clone();
                tokio::spawn(async move { trusted.verify(&token, now).await })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(idp.jwks_fetches(), 1);
        assert_eq!(idp.server.hits(DISCOVERY), 1);
    }

    #[tokio::test]
    async fn the_algorithm_comes_from_the_key() {
        let rsa = TestKey::rsa("rsa");
        let ec = TestKey::p256("ec");
        let ed = TestKey::ed25519("ed");
        let idp = TestIdp::start(&[]).await;
        // No `alg` on the keys: their types decide (RS256, ES256, EdDSA).
        idp.publish_jwks(vec![
            rsa.jwk_without_alg(),
            ec.jwk_without_alg(),
            ed.jwk_without_alg(),
        ]);
        let trusted = idp.trusted();
        let now = Millis::now();
        let claims = idp.claims(now);
        for key in [&rsa, &ec, &ed] {
            let result = trusted.verify(&key.sign(&claims), now).await;
            assert!(result.is_ok(), "{:?}: {result:?}", key.algorithm);
        }
        // The RSA key signs PS256 just as well, but it is published for RS256.
        let pss = rsa.sign_as(Algorithm::PS256, Some("rsa"), &claims);
        assert_eq!(
            trusted.verify(&pss, now).await,
            Err(invalid("the token says PS256 but its key is for RS256"))
        );
        // A key published for PS256 takes PS256 only.
        let mut jwk = rsa.jwk.clone();
        jwk["alg"] = json!("PS256");
        idp.publish_jwks(vec![jwk]);
        let trusted = idp.trusted();
        assert!(trusted.verify(&pss, now).await.is_ok());
        assert!(is_invalid(&trusted.verify(&rsa.sign(&claims), now).await));
    }

    #[tokio::test]
    async fn a_token_without_kid_may_use_the_only_key() {
        let one = TestKey::ed25519("one");
        let two = TestKey::ed25519("two");
        let idp = TestIdp::start(&[&one]).await;
        let now = Millis::now();
        let claims = idp.claims(now);
        let without_kid = one.sign_as(Algorithm::EdDSA, None, &claims);
        assert!(idp.trusted().verify(&without_kid, now).await.is_ok());
        idp.publish(&[&one, &two]);
        assert_eq!(
            idp.trusted().verify(&without_kid, now).await,
            Err(invalid(
                "the token names no key (kid) and the issuer publishes several"
            ))
        );
    }

    #[tokio::test]
    async fn keys_not_for_signatures_are_left_out() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[]).await;
        let now = Millis::now();
        let token = key.sign(&idp.claims(now));
        let variants = [
            ("use", json!("enc")),
            ("key_ops", json!(["encrypt"])),
            ("alg", json!("HS256")),
            ("alg", json!("RS256")),
            ("alg", json!("RSA-OAEP")),
        ];
        for (field, value) in variants {
            let mut jwk = key.jwk.clone();
            jwk[field] = value.clone();
            idp.publish_jwks(vec![jwk]);
            let result = idp.trusted().verify(&token, now).await;
            assert!(is_invalid(&result), "{field}={value}: {result:?}");
        }
        // The control: the same key as published first verifies.
        idp.publish(&[&key]);
        assert!(idp.trusted().verify(&token, now).await.is_ok());
    }

    #[tokio::test]
    async fn refuses_alg_none() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        let payload = URL_SAFE_NO_PAD.encode(idp.claims(now).to_string());
        for header in [
            json!({"alg": "none", "kid": "k1"}),
            json!({"alg": "none"}),
            json!({"alg": "None", "kid": "k1"}),
        ] {
            let header = URL_SAFE_NO_PAD.encode(header.to_string());
            for token in [
                format!("{header}.{payload}."),
                format!("{header}.{payload}"),
            ] {
                assert!(is_invalid(&trusted.verify(&token, now).await), "{token}");
            }
        }
    }

    #[tokio::test]
    async fn refuses_hmac_keyed_with_the_published_key() {
        // The classic confusion: the attacker takes the issuer's public key
        // and "signs" with HMAC, hoping the verifier feeds the same bytes
        // to an HMAC check because the token asked for HS256.
        let rsa = TestKey::rsa("rsa");
        let ed = TestKey::ed25519("ed");
        let idp = TestIdp::start(&[&rsa, &ed]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        let claims = idp.claims(now);
        // The control: the real keys verify their own tokens.
        assert!(trusted.verify(&rsa.sign(&claims), now).await.is_ok());
        assert!(trusted.verify(&ed.sign(&claims), now).await.is_ok());
        let mut secrets: Vec<Vec<u8>> = Vec::new();
        for key in [&rsa, &ed] {
            let jwk: Jwk = serde_json::from_value(key.jwk.clone()).unwrap();
            let public = DecodingKey::from_jwk(&jwk).unwrap();
            if let Ok(bytes) = public.try_get_as_bytes() {
                secrets.push(bytes.to_vec());
            }
            secrets.push(key.jwk.to_string().into_bytes());
        }
        let AlgorithmParameters::RSA(components) = serde_json::from_value::<Jwk>(rsa.jwk.clone())
            .unwrap()
            .algorithm
        else {
            panic!("not an RSA JWK");
        };
        secrets.push(URL_SAFE_NO_PAD.decode(&components.n).unwrap());
        secrets.push(components.n.into_bytes());
        for secret in &secrets {
            for kid in ["rsa", "ed"] {
                for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                    let mut header = Header::new(alg);
                    header.kid = Some(kid.to_owned());
                    let forged =
                        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret))
                            .unwrap();
                    assert_eq!(
                        trusted.verify(&forged, now).await,
                        Err(invalid("HMAC-signed tokens are not accepted")),
                        "{alg:?} {kid}"
                    );
                }
            }
        }
        // Nor does an issuer's own symmetric key (kty "oct") ever verify.
        let shared = b"a-shared-secret-of-32-bytes-long";
        idp.publish_jwks(vec![json!({
            "kty": "oct", "kid": "oct", "alg": "HS256", "use": "sig",
            "k": URL_SAFE_NO_PAD.encode(shared),
        })]);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("oct".to_owned());
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(shared)).unwrap();
        assert!(is_invalid(&idp.trusted().verify(&token, now).await));
    }

    #[tokio::test]
    async fn refuses_a_token_signed_by_another_key_under_a_known_kid() {
        let key = TestKey::ed25519("k1");
        let impostor = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let now = Millis::now();
        assert_eq!(
            idp.trusted()
                .verify(&impostor.sign(&idp.claims(now)), now)
                .await,
            Err(invalid("the signature does not verify"))
        );
    }

    #[tokio::test]
    async fn tokens_of_other_issuers_are_not_trusted() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = idp.trusted();
        let now = Millis::now();
        for iss in [
            "https://elsewhere.example.com".to_owned(),
            format!("{}/", idp.issuer),
            idp.issuer.to_uppercase(),
        ] {
            let mut claims = idp.claims(now);
            claims["iss"] = json!(iss);
            assert!(!trusted.is_trusted(&iss));
            assert_eq!(
                trusted.verify(&key.sign(&claims), now).await,
                Err(TrustError::NotTrusted),
                "{iss}"
            );
        }
        assert_eq!(idp.server.hits(DISCOVERY), 0, "nothing fetched for them");
        for garbage in ["", "a.b", "not.a.jwt", "a.b.c.d.e"] {
            assert_eq!(claims_issuer(garbage), None);
            assert!(is_invalid(&trusted.verify(garbage, now).await));
        }
    }

    #[tokio::test]
    async fn a_provider_that_is_down_leaves_no_keys() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let trusted = trusted(vec![TrustedIssuer {
            issuer: issuer.clone(),
            audience: AUDIENCE.to_owned(),
            jwks_uri: None,
        }]);
        let key = TestKey::ed25519("k1");
        let now = Millis::now();
        let token = key
            .sign(&json!({"iss": issuer, "sub": "u", "aud": AUDIENCE, "exp": now.0 / 1000 + 60}));
        for at in [now, now.plus(Duration::from_secs(10))] {
            let result = trusted.verify(&token, at).await;
            keys_unavailable(result, |why| why.starts_with("the discovery document"));
        }
    }

    /// Fails unless `result` is `KeysUnavailable` for a reason `says` accepts.
    #[track_caller]
    fn keys_unavailable(result: Result<ExternalIdentity, TrustError>, says: impl Fn(&str) -> bool) {
        match result {
            Err(TrustError::KeysUnavailable(why)) => assert!(says(&why), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn refuses_keys_behind_a_redirect_to_another_origin() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        // The same server under another name: another origin.
        let elsewhere = idp.server.url("/jwks").replace("127.0.0.1", "localhost");
        idp.server.set("/moved", Reply::redirect(&elsewhere));
        idp.server.set(
            DISCOVERY,
            Reply::json(
                &json!({"issuer": idp.issuer, "jwks_uri": idp.server.url("/moved")}).to_string(),
            ),
        );
        let now = Millis::now();
        let result = idp.trusted().verify(&key.sign(&idp.claims(now)), now).await;
        keys_unavailable(result, |why| why.contains("another origin"));
        assert_eq!(idp.jwks_fetches(), 0);
    }

    #[tokio::test]
    async fn refuses_what_the_discovery_document_must_not_say() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let now = Millis::now();
        let token = key.sign(&idp.claims(now));
        for (document, reason) in [
            (
                json!({"issuer": "https://other.example.com", "jwks_uri": idp.server.url("/jwks")}),
                "names another issuer",
            ),
            (
                json!({"issuer": idp.issuer, "jwks_uri": "http://keys.example.com/jwks"}),
                "plain http",
            ),
            (
                json!({"issuer": idp.issuer}),
                "not JSON of the expected shape",
            ),
        ] {
            idp.server
                .set(DISCOVERY, Reply::json(&document.to_string()));
            keys_unavailable(idp.trusted().verify(&token, now).await, |why| {
                why.contains(reason)
            });
        }
        assert_eq!(idp.jwks_fetches(), 0);
    }

    #[tokio::test]
    async fn refuses_a_key_set_over_the_size_limit() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[]).await;
        let mut padded = vec![key.jwk.clone()];
        padded.extend(
            (0..64)
                .map(|n| json!({"kty": "oct", "kid": format!("pad-{n}"), "k": "A".repeat(1024)})),
        );
        idp.publish_jwks(padded);
        let limits = OutboundLimits {
            max_body_bytes: 16 * 1024,
            ..OutboundLimits::default()
        };
        let trusted =
            TrustedIssuers::new(vec![idp.config()], Arc::new(Outbound::new(limits).unwrap()))
                .unwrap();
        let now = Millis::now();
        keys_unavailable(
            trusted.verify(&key.sign(&idp.claims(now)), now).await,
            |why| why.contains("larger than 16384 bytes"),
        );
    }

    #[tokio::test]
    async fn a_configured_jwks_uri_skips_discovery() {
        let key = TestKey::ed25519("k1");
        let idp = TestIdp::start(&[&key]).await;
        let trusted = trusted(vec![TrustedIssuer {
            jwks_uri: Some(idp.server.url("/jwks")),
            ..idp.config()
        }]);
        let now = Millis::now();
        assert!(
            trusted
                .verify(&key.sign(&idp.claims(now)), now)
                .await
                .is_ok()
        );
        assert_eq!(idp.server.hits(DISCOVERY), 0);
        assert_eq!(idp.jwks_fetches(), 1);
    }

    #[test]
    fn the_configuration_is_checked() {
        let outbound = Arc::new(Outbound::new(OutboundLimits::default()).unwrap());
        let issuer = |issuer: &str, jwks_uri: Option<&str>| TrustedIssuer {
            issuer: issuer.to_owned(),
            audience: AUDIENCE.to_owned(),
            jwks_uri: jwks_uri.map(str::to_owned),
        };
        let check = |issuers: Vec<TrustedIssuer>| TrustedIssuers::new(issuers, outbound.clone());
        assert!(check(vec![]).is_ok());
        assert!(
            check(vec![
                issuer("https://idp.example.com", None),
                issuer("https://idp.example.com/", None),
                issuer(
                    "http://127.0.0.1:8080/realm",
                    Some("http://localhost:8080/keys")
                ),
            ])
            .is_ok()
        );
        let refused = [
            (vec![issuer("http://idp.example.com", None)], "plain http"),
            (
                vec![issuer(
                    "https://idp.example.com",
                    Some("http://keys.example.com/"),
                )],
                "jwks_uri: plain http",
            ),
            (
                vec![issuer("https://idp.example.com", Some("keys"))],
                "jwks_uri is not a URL",
            ),
            (
                vec![
                    issuer("https://idp.example.com", None),
                    issuer("https://idp.example.com", None),
                ],
                "listed twice",
            ),
            (
                vec![TrustedIssuer {
                    audience: " ".to_owned(),
                    ..issuer("https://idp.example.com", None)
                }],
                "audience is empty",
            ),
            (
                vec![issuer("https://admin:hunter2@idp.example.com", None)],
                "trusted issuer 1: a URL with a user name",
            ),
        ];
        for (issuers, reason) in refused {
            let why = check(issuers).unwrap_err();
            assert!(why.contains(reason), "{why}");
            assert!(!why.contains("hunter2"), "{why}");
        }
    }

    #[test]
    fn the_configuration_deserializes_strictly() {
        let parsed: TrustedIssuer = serde_json::from_value(json!({
            "issuer": "https://idp.example.com",
            "audience": "enlist",
        }))
        .unwrap();
        assert_eq!(parsed.jwks_uri, None);
        assert!(
            serde_json::from_value::<TrustedIssuer>(json!({
                "issuer": "https://idp.example.com",
                "audience": "enlist",
                "jwks_url": "https://idp.example.com/keys",
            }))
            .is_err()
        );
    }

    #[test]
    fn the_discovery_url_drops_the_issuers_trailing_slash() {
        assert_eq!(
            discovery_url("https://idp.example.com/realms/a/")
                .unwrap()
                .as_str(),
            "https://idp.example.com/realms/a/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://idp.example.com").unwrap().as_str(),
            "https://idp.example.com/.well-known/openid-configuration"
        );
    }

    #[test]
    fn a_refetch_waits_a_minute_even_for_a_clock_read_a_moment_early() {
        let at = Millis(1_000_000);
        let attempts = Attempts {
            last: Some(at),
            error: None,
        };
        assert!(!attempts.may_fetch(Millis(at.0 - 5)));
        assert!(!attempts.may_fetch(Millis(at.0 + 59_999)));
        assert!(attempts.may_fetch(Millis(at.0 + 60_000)));
        // A clock set back by more than the interval does not stop fetches.
        assert!(attempts.may_fetch(Millis(at.0 - 60_000)));
        assert!(Attempts::default().may_fetch(at));
    }
}
