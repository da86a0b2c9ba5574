//! Access tokens: JWTs signed with HS256 under a key the server generated on
//! its first start. Validation pins the algorithm and checks exp, iss and aud.

use crate::domain::Millis;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The audience of every access token: the invitee API of this server.
pub const AUDIENCE: &str = "enlist";
/// Clock skew tolerated when checking `exp`.
const LEEWAY_SECS: u64 = 5;

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
}

impl AccessClaims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    lifetime: Duration,
}

/// What the token endpoint needs to answer.
pub struct SignedToken {
    pub token: String,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the access token: {0}")]
pub struct SigningError(#[from] jsonwebtoken::errors::Error);

impl TokenSigner {
    pub fn new(key: &[u8], issuer: &str, lifetime: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            issuer: issuer.to_owned(),
            lifetime,
        }
    }

    pub fn issue(
        &self,
        user_id: i64,
        email: &str,
        email_verified: bool,
        client_id: &str,
        scope: &str,
        now: Millis,
    ) -> Result<SignedToken, SigningError> {
        let iat = now.0 / 1000;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_string(),
            aud: AUDIENCE.to_owned(),
            exp: iat + self.lifetime.as_secs() as i64,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            email: email.to_owned(),
            email_verified,
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(SignedToken {
            token,
            expires_in: self.lifetime.as_secs(),
        })
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn signer() -> TokenSigner {
        TokenSigner::new(&[7_u8; 32], "http://issuer.test", Duration::from_secs(60))
    }

    #[test]
    fn issued_tokens_verify() {
        let signer = signer();
        let token = signer
            .issue(42, "a@b.test", true, "cl", "invitations", Millis::now())
            .unwrap();
        let claims = signer.verify(&token.token).unwrap();
        assert_eq!(claims.user_id(), Some(42));
        assert_eq!(claims.email, "a@b.test");
        assert!(claims.email_verified);
        assert_eq!(claims.aud, AUDIENCE);
        assert_eq!(token.expires_in, 60);
    }

    #[test]
    fn refuses_other_keys_issuers_expired_and_unsigned_tokens() {
        let signer = signer();
        let now = Millis::now();
        let other_key =
            TokenSigner::new(&[8_u8; 32], "http://issuer.test", Duration::from_secs(60));
        let other_issuer =
            TokenSigner::new(&[7_u8; 32], "http://evil.test", Duration::from_secs(60));
        assert!(
            signer
                .verify(
                    &other_key
                        .issue(1, "a@b.test", false, "c", "s", now)
                        .unwrap()
                        .token
                )
                .is_err()
        );
        assert!(
            signer
                .verify(
                    &other_issuer
                        .issue(1, "a@b.test", false, "c", "s", now)
                        .unwrap()
                        .token
                )
                .is_err()
        );
        let expired = signer
            .issue(1, "a@b.test", false, "c", "s", Millis(now.0 - 3_600_000))
            .unwrap();
        assert!(signer.verify(&expired.token).is_err());

        // alg "none": a valid payload with no signature.
        let valid = signer
            .issue(1, "a@b.test", false, "c", "s", now)
            .unwrap()
            .token;
        let payload = valid.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(signer.verify(&format!("{none_header}.{payload}.")).is_err());
        // HS512 with the right key is still refused: the algorithm is pinned.
        let claims = signer.verify(&valid).unwrap();
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&[7_u8; 32]),
        )
        .unwrap();
        assert!(signer.verify(&hs512).is_err());
    }
}
