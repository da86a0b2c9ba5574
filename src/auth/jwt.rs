//! Access tokens: JWTs signed with EdDSA (Ed25519) under the server's
//! current signing key, its `kid` in the header. Validation pins the
//! algorithm, takes the key by `kid` from the keys still published (an
//! unknown `kid` is refused), and checks exp, iss and aud.

use crate::auth::keys::Ed25519Key;
use crate::domain::Millis;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// The audience of every access token: the invitee API of this server.
pub const AUDIENCE: &str = "enlist";
/// Clock skew tolerated when checking `exp`.
pub const LEEWAY_SECS: u64 = 5;
/// The one algorithm tokens are signed and accepted with.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
/// RFC 9068 2.1: the media type of JWT access tokens, so that no other JWT
/// of this issuer (an ID token) passes for one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The account id, as a string.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub email: String,
    /// Whether the account's email was proven when the token was issued.
    /// Tokens from before verification existed lack it and count as unproven.
    #[serde(default)]
    pub email_verified: bool,
    pub client_id: String,
    pub scope: String,
    /// With the `organizations` scope: the memberships when it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<crate::domain::oidc::OrganizationClaim>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub organizations_truncated: bool,
}

impl AccessClaims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

/// A public key tokens may be checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    pub public_key: Vec<u8>,
}

/// The keys as stored: the one that signs (absent when it is not this
/// server's to change, see [`TokenSigner::update`]), every key whose tokens
/// may still be live, and a version that changes with every new key.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    pub active: Option<Ed25519Key>,
    pub published: Vec<PublishedKey>,
    pub version: i64,
}

struct Keys {
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    version: i64,
}

pub struct TokenSigner {
    keys: RwLock<Keys>,
    validation: Validation,
    issuer: String,
    lifetime: Duration,
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

/// How many verified tokens [`TokenSigner::verify`] remembers. An Ed25519
/// check costs tens of microseconds, more than the rest of an invitee-API
/// read; a client sends the same token until it expires. Past this many the
/// memory is emptied and refills (bounded memory, no eviction bookkeeping).
const VERIFIED_CAPACITY: usize = 8192;

/// Who an access token is for and what it allows.
pub struct AccessGrant<'a> {
    pub user_id: i64,
    pub email: &'a str,
    pub email_verified: bool,
    pub client_id: &'a str,
    pub scope: &'a str,
    /// The resource (RFC 8707) it is for; None: enlist's own API.
    pub audience: Option<&'a str>,
    /// The `organizations` claim, when the scope has `organizations`.
    pub organizations: Option<&'a crate::domain::oidc::OrganizationsClaim>,
}

/// What an ID token says besides the issuer and its lifetime (OIDC Core 2).
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    #[serde(skip)]
    pub client_id: &'a str,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    pub amr: Vec<&'static str>,
    #[serde(flatten)]
    pub person: &'a crate::domain::oidc::PersonClaims,
}

#[derive(Serialize)]
struct IdClaimsOut<'a> {
    iss: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    #[serde(flatten)]
    rest: &'a IdTokenClaims<'a>,
}

/// What the token endpoint needs to answer.
pub struct SignedToken {
    pub token: String,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot sign the access token: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("there is no signing key")]
    NoKey,
    #[error("cannot use the signing key: {0}")]
    Key(#[from] crate::auth::keys::KeyError),
}

fn keys_from(
    active: &Ed25519Key,
    published: &[PublishedKey],
    version: i64,
) -> Result<Keys, SigningError> {
    let mut decoding: HashMap<String, DecodingKey> = published
        .iter()
        .filter(|key| key.public_key.len() == 32)
        .map(|key| (key.kid.clone(), DecodingKey::from_ed_der(&key.public_key)))
        .collect();
    decoding.insert(
        active.kid().to_owned(),
        DecodingKey::from_ed_der(&active.public_key()),
    );
    Ok(Keys {
        kid: active.kid().to_owned(),
        encoding: EncodingKey::from_ed_der(&active.to_pkcs8_der()?),
        decoding,
        version,
    })
}

impl TokenSigner {
    pub fn new(keys: &SigningKeys, issuer: &str, lifetime: Duration) -> Result<Self, SigningError> {
        let active = keys.active.as_ref().ok_or(SigningError::NoKey)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        // `exp` is checked in `verify` against the application's clock
        // (which tests move), not jsonwebtoken's reading of the system clock.
        validation.validate_exp = false;
        Ok(Self {
            keys: RwLock::new(keys_from(active, &keys.published, keys.version)?),
            validation,
            issuer: issuer.to_owned(),
            lifetime,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The version of the keys in use, to notice a rotation made elsewhere
    /// (`enlist keys rotate`).
    pub fn version(&self) -> i64 {
        self.read().version
    }

    /// Takes newer keys: signs with their active key from now on (or keeps
    /// its own when they have none, as with `auth.signing_key_file`) and
    /// accepts exactly the published ones.
    pub fn update(&self, keys: &SigningKeys) -> Result<(), SigningError> {
        let mut current = self.keys.write().unwrap_or_else(|e| e.into_inner());
        // A key that is no longer published must stop vouching for its tokens.
        self.remembered().clear();
        let next = match &keys.active {
            Some(active) => keys_from(active, &keys.published, keys.version)?,
            None => {
                let mut decoding: HashMap<String, DecodingKey> = keys
                    .published
                    .iter()
                    .filter(|key| key.public_key.len() == 32)
                    .map(|key| (key.kid.clone(), DecodingKey::from_ed_der(&key.public_key)))
                    .collect();
                if let Some(own) = current.decoding.get(&current.kid) {
                    decoding.insert(current.kid.clone(), own.clone());
                }
                Keys {
                    kid: current.kid.clone(),
                    encoding: current.encoding.clone(),
                    decoding,
                    version: keys.version,
                }
            }
        };
        *current = next;
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// An access token for enlist's own API.
    pub fn issue(
        &self,
        user_id: i64,
        email: &str,
        email_verified: bool,
        client_id: &str,
        scope: &str,
        now: Millis,
    ) -> Result<SignedToken, SigningError> {
        self.issue_access(
            &AccessGrant {
                user_id,
                email,
                email_verified,
                client_id,
                scope,
                audience: None,
                organizations: None,
            },
            now,
        )
    }

    /// An RFC 9068 access token: `typ: at+jwt`, for enlist's API or the
    /// resource (RFC 8707) the client asked for.
    pub fn issue_access(
        &self,
        grant: &AccessGrant<'_>,
        now: Millis,
    ) -> Result<SignedToken, SigningError> {
        let iat = now.0 / 1000;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: grant.user_id.to_string(),
            aud: grant.audience.unwrap_or(AUDIENCE).to_owned(),
            exp: iat + self.lifetime.as_secs() as i64,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            email: grant.email.to_owned(),
            email_verified: grant.email_verified,
            client_id: grant.client_id.to_owned(),
            scope: grant.scope.to_owned(),
            organizations: grant.organizations.map(|claim| claim.organizations.clone()),
            organizations_truncated: grant
                .organizations
                .is_some_and(|claim| claim.organizations_truncated),
        };
        let token = self.sign(&claims, Some(ACCESS_TOKEN_TYPE))?;
        Ok(SignedToken {
            token,
            expires_in: self.lifetime.as_secs(),
        })
    }

    /// An OpenID Connect ID token, signed like access tokens (with a plain
    /// `JWT` type) and living as long.
    pub fn issue_id_token(
        &self,
        id_token: &IdTokenClaims<'_>,
        now: Millis,
    ) -> Result<String, SigningError> {
        let iat = now.0 / 1000;
        let claims = IdClaimsOut {
            iss: &self.issuer,
            aud: id_token.client_id,
            exp: iat + self.lifetime.as_secs() as i64,
            iat,
            rest: id_token,
        };
        self.sign(&claims, None)
    }

    fn sign(&self, claims: &impl Serialize, typ: Option<&str>) -> Result<String, SigningError> {
        let keys = self.read();
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(keys.kid.clone());
        if let Some(typ) = typ {
            header.typ = Some(typ.to_owned());
        }
        Ok(jsonwebtoken::encode(&header, claims, &keys.encoding)?)
    }

    /// The subject and audience of an ID token this server signed, whether
    /// or not it has expired: an `id_token_hint` (OIDC RP-Initiated Logout).
    pub fn id_token_hint(&self, token: &str) -> Option<(String, String)> {
        #[derive(Deserialize)]
        struct Hint {
            sub: String,
            aud: String,
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != ALGORITHM || header.typ.as_deref() == Some(ACCESS_TOKEN_TYPE) {
            return None;
        }
        let keys = self.read();
        let key = keys.decoding.get(header.kid.as_deref()?)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        let hint = jsonwebtoken::decode::<Hint>(token, key, &validation)
            .ok()?
            .claims;
        Some((hint.sub, hint.aud))
    }

    /// An access token this server signed for any audience (enlist's API
    /// or a resource), unexpired at `now`: what introspection reports.
    pub fn verify_any_audience(
        &self,
        token: &str,
        now: Millis,
    ) -> Result<AccessClaims, jsonwebtoken::errors::Error> {
        let header = jsonwebtoken::decode_header(token)?;
        if header.alg != ALGORITHM || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(ErrorKind::InvalidToken.into());
        }
        let keys = self.read();
        let key = keys
            .decoding
            .get(header.kid.as_deref().ok_or(ErrorKind::InvalidToken)?)
            .ok_or(ErrorKind::InvalidSignature)?;
        let mut validation = self.validation.clone();
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &validation)?.claims;
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(i64::MAX);
        if claims.exp < (now.0 / 1000).saturating_sub(leeway) {
            return Err(ErrorKind::ExpiredSignature.into());
        }
        Ok(claims)
    }

    /// The claims of a token this server signed and that has not expired
    /// at `now` (with [`LEEWAY_SECS`] of leeway).
    ///
    /// A token whose signature was checked once is known by the SHA-256 of
    /// its whole text; its expiry is checked on every use.
    pub fn verify(
        &self,
        token: &str,
        now: Millis,
    ) -> Result<AccessClaims, jsonwebtoken::errors::Error> {
        let digest = crate::auth::secrets::sha256(token);
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(i64::MAX);
        let unexpired = |claims: &AccessClaims| claims.exp >= (now.0 / 1000).saturating_sub(leeway);
        if let Some(claims) = self.remembered().get(&digest) {
            return if unexpired(claims) {
                Ok(claims.clone())
            } else {
                Err(ErrorKind::ExpiredSignature.into())
            };
        }
        let claims = self.verify_signature(token)?;
        if !unexpired(&claims) {
            return Err(ErrorKind::ExpiredSignature.into());
        }
        let mut remembered = self.remembered();
        if remembered.len() >= VERIFIED_CAPACITY {
            remembered.clear();
        }
        remembered.insert(digest, claims.clone());
        Ok(claims)
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], AccessClaims>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn verify_signature(&self, token: &str) -> Result<AccessClaims, jsonwebtoken::errors::Error> {
        let header = jsonwebtoken::decode_header(token)?;
        if header.alg != ALGORITHM {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        let kid = header.kid.ok_or(ErrorKind::InvalidToken)?;
        let keys = self.read();
        let key = keys.decoding.get(&kid).ok_or(ErrorKind::InvalidSignature)?;
        Ok(jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const ISSUER: &str = "http://issuer.test";

    fn published(key: &Ed25519Key) -> PublishedKey {
        PublishedKey {
            kid: key.kid().to_owned(),
            public_key: key.public_key().to_vec(),
        }
    }

    fn keys(active: &Ed25519Key, version: i64) -> SigningKeys {
        SigningKeys {
            active: Some(active.clone()),
            published: vec![published(active)],
            version,
        }
    }

    fn signer_with(key: &Ed25519Key, issuer: &str) -> TokenSigner {
        TokenSigner::new(&keys(key, 1), issuer, Duration::from_secs(60)).unwrap()
    }

    /// A token over `claims` with this header, signed by `key` as EdDSA.
    fn sign(header: &Header, claims: &AccessClaims, key: &Ed25519Key) -> String {
        let encoding = EncodingKey::from_ed_der(&key.to_pkcs8_der().unwrap());
        jsonwebtoken::encode(header, claims, &encoding).unwrap()
    }

    fn eddsa_header(kid: Option<&str>) -> Header {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = kid.map(str::to_owned);
        header
    }

    #[test]
    fn issued_tokens_carry_the_kid_and_verify() {
        let key = Ed25519Key::generate();
        let signer = signer_with(&key, ISSUER);
        let token = signer
            .issue(42, "a@b.test", true, "cl", "invitations", Millis::now())
            .unwrap();
        let header = jsonwebtoken::decode_header(&token.token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let claims = signer.verify(&token.token, Millis::now()).unwrap();
        assert_eq!(claims.user_id(), Some(42));
        assert_eq!(claims.email, "a@b.test");
        assert!(claims.email_verified);
        assert_eq!(claims.aud, AUDIENCE);
        assert_eq!(token.expires_in, 60);
        // Only the public key is needed to check it.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        let public =
            DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(key.public_key())).unwrap();
        assert!(jsonwebtoken::decode::<AccessClaims>(&token.token, &public, &validation).is_ok());
    }

    #[test]
    fn refuses_other_keys_issuers_and_expired_tokens() {
        let key = Ed25519Key::generate();
        let signer = signer_with(&key, ISSUER);
        let now = Millis::now();
        let valid = signer
            .issue(1, "a@b.test", false, "c", "s", now)
            .unwrap()
            .token;
        let claims = signer.verify(&valid, Millis::now()).unwrap();

        // Another key claiming the server's kid.
        let other = Ed25519Key::generate();
        let forged = sign(&eddsa_header(Some(key.kid())), &claims, &other);
        assert!(signer.verify(&forged, Millis::now()).is_err());
        // Another issuer, with the right key.
        let other_issuer = signer_with(&key, "http://evil.test");
        let elsewhere = other_issuer
            .issue(1, "a@b.test", false, "c", "s", now)
            .unwrap();
        assert!(signer.verify(&elsewhere.token, Millis::now()).is_err());
        // Expired beyond the leeway.
        let expired = signer
            .issue(1, "a@b.test", false, "c", "s", Millis(now.0 - 3_600_000))
            .unwrap();
        assert!(signer.verify(&expired.token, Millis::now()).is_err());
        // Expiry follows the caller's clock, not the system's.
        let fresh = signer.issue(1, "a@b.test", false, "c", "s", now).unwrap();
        assert!(
            signer
                .verify(&fresh.token, Millis(now.0 + 3_600_000))
                .is_err()
        );
        assert!(signer.verify(&fresh.token, now).is_ok());
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_rotation_forgets_it() {
        let key = Ed25519Key::generate();
        let signer = signer_with(&key, ISSUER);
        let now = Millis::now();
        let token = signer
            .issue(7, "a@b.test", true, "c", "s", now)
            .unwrap()
            .token;
        assert!(signer.verify(&token, now).is_ok());
        assert!(
            signer.verify(&token, now).is_ok(),
            "the second check comes from memory"
        );
        let later = Millis(now.0 + 61_000 + LEEWAY_SECS as i64 * 1000);
        assert!(
            signer.verify(&token, later).is_err(),
            "expired, remembered or not"
        );

        // A tampered copy is another text: it is checked, and fails.
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(signer.verify(&tampered, now).is_err());

        // Keys that no longer publish the token's key: remembered no more.
        let next = Ed25519Key::generate();
        signer.update(&keys(&next, 2)).unwrap();
        assert!(signer.verify(&token, now).is_err());
    }

    #[test]
    fn refuses_alg_none() {
        let signer = signer_with(&Ed25519Key::generate(), ISSUER);
        let valid = signer
            .issue(1, "a@b.test", false, "c", "s", Millis::now())
            .unwrap();
        let payload = valid.token.split('.').nth(1).unwrap();
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#.to_owned(),
            format!(
                r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
                jsonwebtoken::decode_header(&valid.token)
                    .unwrap()
                    .kid
                    .unwrap()
            ),
        ] {
            let header = URL_SAFE_NO_PAD.encode(header);
            assert!(
                signer
                    .verify(&format!("{header}.{payload}."), Millis::now())
                    .is_err()
            );
            assert!(
                signer
                    .verify(&format!("{header}.{payload}"), Millis::now())
                    .is_err()
            );
        }
    }

    #[test]
    fn refuses_hmac_keyed_with_the_public_key() {
        // The classic confusion: HS256 with the published key as the secret.
        let key = Ed25519Key::generate();
        let signer = signer_with(&key, ISSUER);
        let valid = signer
            .issue(1, "a@b.test", false, "c", "s", Millis::now())
            .unwrap();
        let claims = signer.verify(&valid.token, Millis::now()).unwrap();
        let x = URL_SAFE_NO_PAD.encode(key.public_key());
        for secret in [key.public_key().to_vec(), x.into_bytes()] {
            for alg in [Algorithm::HS256, Algorithm::HS512] {
                let mut header = Header::new(alg);
                header.kid = Some(key.kid().to_owned());
                let token =
                    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))
                        .unwrap();
                assert!(signer.verify(&token, Millis::now()).is_err(), "{alg:?}");
            }
        }
    }

    #[test]
    fn refuses_unknown_or_missing_kid() {
        let key = Ed25519Key::generate();
        let signer = signer_with(&key, ISSUER);
        let valid = signer
            .issue(1, "a@b.test", false, "c", "s", Millis::now())
            .unwrap();
        let claims = signer.verify(&valid.token, Millis::now()).unwrap();
        // The right key, but a kid the server does not publish, or none.
        assert!(
            signer
                .verify(
                    &sign(&eddsa_header(Some("other")), &claims, &key),
                    Millis::now()
                )
                .is_err()
        );
        assert!(
            signer
                .verify(&sign(&eddsa_header(None), &claims, &key), Millis::now())
                .is_err()
        );
        // The control: the same construction with the right kid verifies.
        assert!(
            signer
                .verify(
                    &sign(&eddsa_header(Some(key.kid())), &claims, &key),
                    Millis::now()
                )
                .is_ok()
        );
    }

    #[test]
    fn refuses_a_tampered_payload() {
        let signer = signer_with(&Ed25519Key::generate(), ISSUER);
        let valid = signer
            .issue(1, "a@b.test", false, "c", "s", Millis::now())
            .unwrap();
        let parts: Vec<&str> = valid.token.split('.').collect();
        let mut claims = signer.verify(&valid.token, Millis::now()).unwrap();
        claims.sub = "2".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert!(signer.verify(&tampered, Millis::now()).is_err());
    }

    #[test]
    fn after_an_update_new_tokens_use_the_new_key_and_old_ones_still_verify() {
        let old = Ed25519Key::generate();
        let signer = signer_with(&old, ISSUER);
        let before = signer
            .issue(1, "a@b.test", false, "c", "s", Millis::now())
            .unwrap();

        let new = Ed25519Key::generate();
        signer
            .update(&SigningKeys {
                active: Some(new.clone()),
                published: vec![published(&new), published(&old)],
                version: 2,
            })
            .unwrap();
        let after = signer
            .issue(1, "a@b.test", false, "c", "s", Millis::now())
            .unwrap();

        assert_eq!(signer.version(), 2);
        assert!(signer.verify(&before.token, Millis::now()).is_ok());
        assert!(signer.verify(&after.token, Millis::now()).is_ok());
        let kid = jsonwebtoken::decode_header(&after.token).unwrap().kid;
        assert_eq!(kid.as_deref(), Some(new.kid()));

        // Once the old key is no longer published, its tokens are refused.
        signer.update(&keys(&new, 3)).unwrap();
        assert!(signer.verify(&before.token, Millis::now()).is_err());
        assert!(signer.verify(&after.token, Millis::now()).is_ok());
    }
}
