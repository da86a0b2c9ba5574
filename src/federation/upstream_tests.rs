//! `Providers::begin` and `Providers::finish` against a real provider on
//! 127.0.0.1 ([`TestServer`]): the sign-in that works, and every bad ID
//! token and bad provider answer, each of which must end in an error and
//! never in an identity.

use super::*;
use crate::federation::outbound::OutboundLimits;
use crate::federation::test_idp::{Received, Reply, TestServer};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const ID: &str = "corp";
const CLIENT_ID: &str = "enlist-app";
const CLIENT_SECRET: &str = "client-secret-1";
const PUBLIC_URL: &str = "http://127.0.0.1:1";
const DISCOVERY: &str = "/.well-known/openid-configuration";
const HOUR: Duration = Duration::from_secs(3600);

/// RSA-2048 test keys (PKCS#1 DER), made once with openssl: jsonwebtoken
/// signs with them but cannot generate them. `RSA_A` is the provider's;
/// `RSA_B` is anyone else's.
const RSA_A: &str = "MIIEpQIBAAKCAQEAtgbJ/PWG/VkDWBboopAfvUj9SlN0f0DeP0SXbY3M3T3b5ds2mRN5AvRAhVcRePSYWAx2nsD+k/8xO/J0\
aFvXpGhc2fEBY7Is2Rg+K7j4XZSDR0VFEVAzbxRYIfOqkM0NrLzmQMGQaCToR/lpt6B7F6nVW2BiyLNaCLysuP/3+e1Fylhs\
ig+WvYysPqlP6SM3Ox/6Fl6QRkbupOIg28qDn4haZNefWlHl54noB58BadZlaJVRFD2jg0LCsAuxx4tpRXSFyffde0ccCUGX\
yQpPJgojAmtrkWfh2+c21VRSxCIPfJXWaHAU7ZzQ25o25OQ+U6OORRvlih3jeppaChTskwIDAQABAoIBABz02IYKovZDhkIp\
pslRhxML/OspeoNR1OkYpsQxRhE96XDX3ggc7me3Zlov3yIwOtnq5aXcisMNWg4wxC7jyVqolXjAG5n5+qNwdVdsPepZGUcp\
sFKQQRZfFKQWCKCvVgkQJcrQYAIJOQBWH2isOViq1juKijxmN6DjLtDhO1gBD4cACGwri8A2h4/pSHndww6NSPYihIFW57YM\
6RK8Q+cuEqZCahJLCOwDLS0rBNj4whcNiDVHECktodxuhd6seWZRuxl3s1Gnvoe1892eKDbzeMG+BToFB1OEMQaJtHEgFDcq\
j6n44/U5exurxQZislOIx3yiAfKIOESA3Tkm4HUCgYEA5Sggkj7UlmzfaLX0C5iN2nLjlGNdTfUdIB2/fJPRa6dilproqQ31\
ZwTRjAhFmzBFF2x9530rPEWdM5KQmz73JGeO0PItVjhpRTC76sU9UWrbJ596D9j5ejUFCEhBFslgOcmfmyxlVGUqhSfSeGbP\
LcUNa5jf1F7wI4Y45leFNIcCgYEAy1lWQQDRGMDjGCJahqWct/XKJ2rAd36qj4IS74bjKZbJbeL6aLIdh+iS+1PZ3yKB9+lE\
VGp8PNP9qXxgjHq/BIywq1KrjqfltGI6YCF/6qMKjJzi3xoX3Sv/J+phD/sWkPmy0b6jKvPKejsIfcYGBPk6HUj7lUyR1FFR\
m7jYVpUCgYEAy/sxKx0UnSYipBG7QAs20ioMnIzqhDdZCrqQNjNaaiqgXpFb4wgS1vX6FV1ToHWSOuyPEl1f/BG3gi3H3Plq\
gxRPk3zPkH08b6OW0r9p+qxUkmup+qtYP0ksxpeSoNb2edoY4cbeGAbJl6e/+P8DEqnibVGyhFdSCT00Lw3e+8cCgYEAtdiz\
YLgJRTihHOED0WtixcPgvvUhHvtALculgVw/4t48Ta9wPZYjAHoEjwrCSF/EmF2bRF5hscfmDN30PUw7bCcgimUIlC8jJPe+\
ul7a1IpvEaXu4JKmCpygtiJMII1q9cTGm/j+U5fmVv5Zrpgao/H4fV3Z1f6+Xn9GGprnpC0CgYEAg0HWb5wKieyNowN4KIAX\
taT9txLTy+VU4UdCKfOUf0Vl9+qB9xL+5g8Jf3YY1N6DrgBRdIv6nBGZg+LkMjW95+ZeGxwmHbnZ2ecYKoYe50CeV4RWPB2C\
R80h9n1hadCQ9C7stdo+qSOGHLZQulzjL/TC3UWr3GcQu1eNUvoTIeo=";
const RSA_B: &str = "MIIEowIBAAKCAQEA2CiRhGg1222ptTtgTf2mMZcnAwfUH/2Yy3q7xuHGs2bKsGrD/Uxg3kmLKfCa3y/dxh34TqiU2jhH+ga8\
GVM83palOWZkzvSnjvAKWgvTGkb3DowDPmFIDg2QIWFLW/RzbSYYtarxANiuD3E6Qs1kgO30bSoql3Kn3WiyZOuBddj3t+8W\
+GnHDZSFG4Yq3XBddHvs0QnA585feIMQQzGHVc8fUIzwEFsrN3fFeuCkeaaxSv4Z87nnRKk7xS4NKLfwSPYOlcqCHPWpzZ6Z\
+LFIK70udmd6mITQfvxH2HEFj9XfB/w79mxsez/0JwD4DFAvufheOeIFGNf7eybCNlcH8wIDAQABAoIBAD1ZckeSrip7mu2R\
jxlDku5DOLLO/4Ee4EVsLaxaOyOC2qcsfji/e0TLucArBkGvG7IVonpstWakD6WiULOdYMrKFdXPPnBQltfmQAHjlkRAfPE3\
gtorESDP76bRrupH3JTPebbh7+nuFaTTXZZFJi/DmZp8G7+FLqiUBQHIp6My7h4/HXXYm5ALr6RhFT++VJeklKLUX1M7rOEH\
ypYPlYxMGMBPfjI1QUdVnWldqw2RM9+mwBAibs4wdrb6Eq+qeu2ms92yQyRHAghFjQbblZ2OcLbxTfkvnxH1OKALo+YyuPqF\
29Tnih8LvU2kzX0MCHQTa0vE/r0ANNM1rrXHAwkCgYEA9e23wQD/aZswFhyj6XHmnqneS/aJZiOoz9dOOOa7/CrTJqwMZSkv\
cUNtGJxbaoSLwucA+bgMQXO+HtXNXTyjuE8i3QQNHQ95ozagjxz11rzTiEponLo5vkkSk3+ymFrYBYn84n9D4Jg8+G+bkZgG\
bo0vqVxtlcbQ5OTSqTfL7LsCgYEA4QK+qIneDUETaGU1in9bFXb7Z/OLDZ9rgqQ0VJYlDH6GLCbzuAB3zw7HJndZ8VHRDUbk\
Ve5rW9S9p6knj7MVdL6yb/Hmj/OdXpD/VQBR3fB6O7rZXs7LcxS0mvwJ/lV8Cm4myiBXu5ag5x8euZsdCdJiDnB9E/RPDscg\
GFBHeikCgYAo+E9Sgf4K8+WQ6XiNHYKUECyObyX4tBwdc/r+E8JhgijnGmZ+O9xBfEAih3nbRvWZpK5O69Bu3v9fV7L8w2tq\
+xQNyez9WGSlQiaBcQurmI2M+Qhwg72266mClRWFuCygz5oniZgfRH1zzfQWz0LTDAZSqqk++H44g75snnUEnQKBgQC/q2jh\
hF9EhxSTLvOGwKnEBRBvIkRnHE+mf12cWDHDDNwaLCwbpzpnhL0cBTr2l60uVB8ZG/kTxoqvkSYEAJbcVb0GItc19F0vOvBl\
ZdpW5gwZaTbUze78Xrzh8KRKpGL/N4mPUDGrt8nkVtwDWyBHR5EDn8rL/qaBfhnW3Dum0QKBgFwuF7tzzIqiiN2e5yiBRVx7\
/KsknsrwF5Vq0QhIPXMUKphxL5QkQ0bGEF/vZHW+LtQi/i66xENqYdg0OvjkCaIP3qL8LGbZ971PtVVVoF6cDSlOr+H4cjqM\
FBhMgo4v+XMVAhhnlR0ddXbjhoJFBXkD5ffC19Mb/loj13zL1feX";
/// `RSA_A`'s public key as PEM: the bytes an "alg confusion" forger
/// would use as an HS256 secret.
const RSA_A_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtgbJ/PWG/VkDWBboopAf\n\
vUj9SlN0f0DeP0SXbY3M3T3b5ds2mRN5AvRAhVcRePSYWAx2nsD+k/8xO/J0aFvX\n\
pGhc2fEBY7Is2Rg+K7j4XZSDR0VFEVAzbxRYIfOqkM0NrLzmQMGQaCToR/lpt6B7\n\
F6nVW2BiyLNaCLysuP/3+e1Fylhsig+WvYysPqlP6SM3Ox/6Fl6QRkbupOIg28qD\n\
n4haZNefWlHl54noB58BadZlaJVRFD2jg0LCsAuxx4tpRXSFyffde0ccCUGXyQpP\n\
JgojAmtrkWfh2+c21VRSxCIPfJXWaHAU7ZzQ25o25OQ+U6OORRvlih3jeppaChTs\n\
kwIDAQAB\n\
-----END PUBLIC KEY-----\n\
";

/// A signing key and its public JWK.
struct TestKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl TestKey {
    fn rsa(der: &str, kid: &str) -> Self {
        let encoding = EncodingKey::from_rsa_der(&STANDARD.decode(der).unwrap());
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap())
                .unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        Self {
            kid: kid.to_owned(),
            encoding,
            jwk,
        }
    }

    /// RS256 under this key's `kid`.
    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// RS256 under any `kid`.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// Makes an ID token of claims, however a case needs it made.
type Signer<'a> = &'a dyn Fn(&Value) -> String;

/// HS256 keyed with `secret`.
fn hs256(secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// `alg: none`, with an empty signature.
fn unsigned(claims: &Value) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT"})),
        part(claims)
    )
}

/// A provider on 127.0.0.1: discovery, its key set (`RSA_A` as `k1`),
/// and a token endpoint answering what the test says.
struct Idp {
    server: TestServer,
    issuer: String,
    key: TestKey,
}

impl Idp {
    async fn start() -> Self {
        let server = TestServer::start().await;
        let issuer = server.url("");
        let key = TestKey::rsa(RSA_A, "k1");
        let idp = Self {
            server,
            issuer,
            key,
        };
        idp.serve_discovery(&idp.discovery());
        idp.server.set(
            "/jwks",
            Reply::json(&json!({ "keys": [idp.key.jwk] }).to_string()),
        );
        idp
    }

    fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.server.url("/authorize"),
            "token_endpoint": self.server.url("/token"),
            "userinfo_endpoint": self.server.url("/userinfo"),
            "jwks_uri": self.server.url("/jwks"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
        })
    }

    fn serve_discovery(&self, document: &Value) {
        self.server
            .set(DISCOVERY, Reply::json(&document.to_string()));
    }

    fn providers(&self) -> Providers {
        self.providers_with(OutboundLimits::default())
    }

    fn providers_with(&self, limits: OutboundLimits) -> Providers {
        let config = ProviderConfig {
            id: ID.to_owned(),
            name: "Corp".to_owned(),
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            scopes: ["openid", "email", "profile"].map(String::from).to_vec(),
        };
        let outbound = Arc::new(Outbound::new(limits).unwrap());
        Providers::new(vec![config], PUBLIC_URL, outbound).unwrap()
    }

    /// An ID token's claims that pass every check at `now`.
    fn claims(&self, now: Millis, nonce: &str) -> Value {
        let now = now.0 / 1000;
        json!({
            "iss": self.issuer,
            "sub": "user-1",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": "ada@example.com",
            "email_verified": true,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "name": "Ada Lovelace",
        })
    }

    /// The token endpoint answers a code with this ID token.
    fn answer_id_token(&self, id_token: &str) {
        self.answer_tokens(&json!({
            "access_token": "access-1",
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
        }));
    }

    fn answer_tokens(&self, response: &Value) {
        self.server
            .set("/token", Reply::json(&response.to_string()));
    }

    fn token_requests(&self) -> Vec<Received> {
        self.server.received("/token")
    }

    /// Begins a sign-in at `now`, has the token endpoint answer with the ID
    /// token `make` crafts from valid claims (bearing begin's nonce), and
    /// finishes it.
    async fn sign_in(
        &self,
        providers: &Providers,
        now: Millis,
        make: impl FnOnce(Value) -> String,
    ) -> Result<ExternalIdentity, UpstreamError> {
        let begun = providers.begin(ID, now).await.unwrap();
        self.answer_id_token(&make(self.claims(now, &begun.nonce)));
        providers
            .finish(ID, "code-1", &begun.pkce_verifier, &begun.nonce, now)
            .await
    }
}

/// Fails the test unless `result` is `Refused` for a reason that says
/// `reason`: an identity above all, but also a refusal for another reason
/// than the one the case is about.
#[track_caller]
fn refused(result: Result<ExternalIdentity, UpstreamError>, case: &str, reason: &str) {
    match result {
        Err(UpstreamError::Refused(why)) => assert!(why.contains(reason), "{case}: {why}"),
        other => panic!("{case}: expected Refused, got {other:?}"),
    }
}

/// The same for `Unavailable`.
#[track_caller]
fn unavailable<T: std::fmt::Debug>(result: Result<T, UpstreamError>, case: &str) -> String {
    match result {
        Err(UpstreamError::Unavailable(why)) => why,
        other => panic!("{case}: expected Unavailable, got {other:?}"),
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_authorization_url_carries_pkce_state_nonce_and_scopes() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    let begun = providers.begin(ID, now).await.unwrap();

    assert!(
        begun
            .authorization_url
            .starts_with(&format!("{}?", idp.server.url("/authorize"))),
        "{}",
        begun.authorization_url
    );
    let query = query_of(&begun.authorization_url);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(
        query["redirect_uri"],
        format!("{PUBLIC_URL}/auth/oidc/{ID}/callback")
    );
    let scopes: Vec<&str> = query["scope"].split(' ').collect();
    for scope in ["openid", "email", "profile"] {
        assert_eq!(
            scopes.iter().filter(|s| **s == scope).count(),
            1,
            "{scopes:?}"
        );
    }
    assert_eq!(query["state"], begun.state);
    assert_eq!(query["nonce"], begun.nonce);
    assert_eq!(query["code_challenge_method"], "S256");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(begun.pkce_verifier.as_bytes()));
    assert_eq!(query["code_challenge"], challenge);
    // The secrets are fresh each time, and long enough not to be guessed.
    let again = providers.begin(ID, now).await.unwrap();
    assert_ne!(again.state, begun.state);
    assert_ne!(again.nonce, begun.nonce);
    assert_ne!(again.pkce_verifier, begun.pkce_verifier);
    assert!(begun.state.len() >= 16 && begun.nonce.len() >= 16);
    assert!(begun.pkce_verifier.len() >= 43);
    assert!(matches!(
        providers.begin("nobody", now).await,
        Err(UpstreamError::UnknownProvider(_))
    ));
}

#[tokio::test]
async fn a_valid_id_token_signs_in_and_the_code_travels_with_its_verifier() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    let begun = providers.begin(ID, now).await.unwrap();
    idp.answer_id_token(&idp.key.sign(&idp.claims(now, &begun.nonce)));
    let identity = providers
        .finish(ID, "code-1", &begun.pkce_verifier, &begun.nonce, now)
        .await
        .unwrap();
    assert_eq!(
        identity,
        ExternalIdentity {
            issuer: idp.issuer.clone(),
            subject: "user-1".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            name: Some("Ada Lovelace".into()),
            client: None,
        }
    );
    // The email was in the ID token: userinfo was not asked.
    assert_eq!(idp.server.hits("/userinfo"), 0);

    let requests = idp.token_requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(request.head.starts_with("POST /token "), "{}", request.head);
    let form = request.form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "code-1");
    assert_eq!(form["code_verifier"], begun.pkce_verifier);
    assert_eq!(
        form["redirect_uri"],
        format!("{PUBLIC_URL}/auth/oidc/{ID}/callback")
    );
    // The client authenticates with HTTP Basic (client_secret_basic), and
    // its secret is nowhere in the body.
    let basic = STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(!form.contains_key("client_secret"), "{form:?}");
    assert!(!request.body.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn an_id_token_without_email_takes_the_one_userinfo_gives() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    idp.server.set(
        "/userinfo",
        Reply::json(
            &json!({
                "sub": "user-1",
                "email": "ada@corp.example",
                "email_verified": true,
                "name": "Ada L.",
            })
            .to_string(),
        ),
    );
    let identity = idp
        .sign_in(&providers, Millis::now(), |mut claims| {
            for claim in ["email", "email_verified"] {
                claims.as_object_mut().unwrap().remove(claim);
            }
            idp.key.sign(&claims)
        })
        .await
        .unwrap();
    assert_eq!(identity.issuer, idp.issuer);
    assert_eq!(identity.subject, "user-1");
    assert_eq!(identity.email.as_deref(), Some("ada@corp.example"));
    assert!(identity.email_verified);
    assert_eq!(identity.name.as_deref(), Some("Ada L."));
    let asked = idp.server.received("/userinfo");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].header("authorization"), Some("Bearer access-1"));
}

#[tokio::test]
async fn userinfo_about_someone_else_is_refused() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    idp.server.set(
        "/userinfo",
        Reply::json(&json!({"sub": "user-2", "email": "eve@example.com"}).to_string()),
    );
    let result = idp
        .sign_in(&providers, Millis::now(), |mut claims| {
            claims.as_object_mut().unwrap().remove("email");
            idp.key.sign(&claims)
        })
        .await;
    refused(result, "userinfo for another subject", "Invalid subject");
}

#[tokio::test]
async fn a_token_for_another_issuer_or_audience_is_refused() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    let issuer = "Invalid issuer";
    let audience = "Invalid audiences";
    let cases: [(&str, &str, Value, &str); 5] = [
        (
            "another issuer",
            "iss",
            json!("https://idp.example.com"),
            issuer,
        ),
        (
            "the issuer and a slash",
            "iss",
            json!(format!("{}/", idp.issuer)),
            issuer,
        ),
        ("another client", "aud", json!("other-app"), audience),
        // openidconnect refuses any audience besides ours (unless told to
        // trust it), with or without `azp`; it never reads `azp`.
        (
            "ours and another",
            "aud",
            json!([CLIENT_ID, "other-app"]),
            audience,
        ),
        ("no audience we know", "aud", json!(["a", "b"]), audience),
    ];
    for (case, claim, value, reason) in cases {
        let result = idp
            .sign_in(&providers, now, |mut claims| {
                claims[claim] = value;
                idp.key.sign(&claims)
            })
            .await;
        refused(result, case, reason);
    }
    let result = idp
        .sign_in(&providers, now, |mut claims| {
            claims["aud"] = json!([CLIENT_ID, "other-app"]);
            claims["azp"] = json!(CLIENT_ID);
            idp.key.sign(&claims)
        })
        .await;
    refused(
        result,
        "ours and another, azp ours",
        "`other-app` is not a trusted",
    );
}

#[tokio::test]
async fn a_token_not_signed_by_the_providers_key_is_refused() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    let stranger = TestKey::rsa(RSA_B, "k2");
    let stolen_kid = TestKey::rsa(RSA_B, "k1");
    let forged = |c: &Value| {
        // Our signature, over claims naming someone else.
        let signed = idp.key.sign(c);
        let mut other = c.clone();
        other["sub"] = json!("admin");
        let parts: Vec<&str> = signed.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(other.to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let bad = "bad signature";
    let unknown = "No matching key";
    let cases: [(&str, Signer<'_>, &str); 4] = [
        ("another key, the same kid", &|c| stolen_kid.sign(c), bad),
        ("another key, its own kid", &|c| stranger.sign(c), unknown),
        (
            "our key, a kid not published",
            &|c| idp.key.sign_as("k9", c),
            unknown,
        ),
        ("our signature over other claims", &forged, bad),
    ];
    for (case, sign, reason) in cases {
        let result = idp.sign_in(&providers, now, |claims| sign(&claims)).await;
        refused(result, case, reason);
    }
}

#[tokio::test]
async fn unsigned_and_hmac_tokens_are_refused() {
    let idp = Idp::start().await;
    let now = Millis::now();
    let disallowed = "algorithm `HS256` is not one of: RS256";
    let cases: [(&str, Signer<'_>, &str); 3] = [
        ("alg none", &unsigned, "No signature found"),
        (
            "HS256 keyed with our public key (alg confusion)",
            &|c| hs256(RSA_A_PUBLIC_PEM.as_bytes(), c),
            disallowed,
        ),
        // openidconnect itself takes this one from a provider that lists
        // HS256: the client secret is its key (OIDC Core §10.1).
        (
            "HS256 keyed with the client secret",
            &|c| hs256(CLIENT_SECRET.as_bytes(), c),
            disallowed,
        ),
    ];
    for advertised in [json!(["RS256"]), json!(["RS256", "HS256", "none"])] {
        let mut document = idp.discovery();
        document["id_token_signing_alg_values_supported"] = advertised.clone();
        idp.serve_discovery(&document);
        // A new `Providers` discovers afresh.
        let providers = idp.providers();
        for (case, sign, reason) in cases {
            let result = idp.sign_in(&providers, now, |claims| sign(&claims)).await;
            let case = format!("{case}, provider advertising {advertised}");
            refused(result, &case, reason);
        }
        // RS256 still works.
        let result = idp.sign_in(&providers, now, |c| idp.key.sign(&c)).await;
        assert!(result.is_ok(), "{advertised}: {result:?}");
    }
}

#[tokio::test]
async fn a_provider_offering_only_shared_secret_signatures_is_not_used() {
    let idp = Idp::start().await;
    let mut document = idp.discovery();
    document["id_token_signing_alg_values_supported"] = json!(["HS256", "none"]);
    idp.serve_discovery(&document);
    let result = idp.providers().begin(ID, Millis::now()).await;
    unavailable(result.map(|_| ()), "HS256 and none only");
}

#[tokio::test]
async fn token_times_follow_the_callers_clock() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    let secs = now.0 / 1000;
    let expired = idp
        .sign_in(&providers, now, |mut claims| {
            claims["exp"] = json!(secs - 1);
            claims["iat"] = json!(secs - 301);
            idp.key.sign(&claims)
        })
        .await;
    refused(expired, "exp a second ago", "ID token expired");
    // Valid by the wall clock, expired by the `now` finish is given.
    let later = now.plus(Duration::from_secs(301));
    let begun = providers.begin(ID, now).await.unwrap();
    idp.answer_id_token(&idp.key.sign(&idp.claims(now, &begun.nonce)));
    let result = providers
        .finish(ID, "code-1", &begun.pkce_verifier, &begun.nonce, later)
        .await;
    refused(result, "finished after exp", "ID token expired");

    let future = idp
        .sign_in(&providers, now, |mut claims| {
            claims["iat"] = json!(secs + 3600);
            claims["exp"] = json!(secs + 7200);
            idp.key.sign(&claims)
        })
        .await;
    refused(future, "iat an hour ahead", "issued in the future");
    // Within the leeway a provider's clock may run ahead.
    let ahead = idp
        .sign_in(&providers, now, |mut claims| {
            claims["iat"] = json!(secs + 30);
            idp.key.sign(&claims)
        })
        .await;
    assert!(ahead.is_ok(), "{ahead:?}");
}

#[tokio::test]
async fn a_wrong_or_missing_nonce_is_refused() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    // A token from another login (its nonce), replayed into this one.
    let other = providers.begin(ID, now).await.unwrap();
    let this = providers.begin(ID, now).await.unwrap();
    idp.answer_id_token(&idp.key.sign(&idp.claims(now, &other.nonce)));
    let result = providers
        .finish(ID, "code-1", &this.pkce_verifier, &this.nonce, now)
        .await;
    refused(result, "another login's nonce", "nonce mismatch");

    let result = idp
        .sign_in(&providers, now, |mut claims| {
            claims.as_object_mut().unwrap().remove("nonce");
            idp.key.sign(&claims)
        })
        .await;
    refused(result, "no nonce", "missing nonce");
}

#[tokio::test]
async fn a_token_response_without_an_id_token_or_with_an_error_is_refused() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    let begun = providers.begin(ID, now).await.unwrap();
    let finish = || providers.finish(ID, "code-1", &begun.pkce_verifier, &begun.nonce, now);

    idp.answer_tokens(&json!({
        "access_token": "access-1", "token_type": "Bearer", "expires_in": 3600,
    }));
    refused(finish().await, "no id_token", "no id_token");

    // A code used twice, or expired.
    idp.server
        .set("/token", Reply::status(400, r#"{"error":"invalid_grant"}"#));
    refused(finish().await, "invalid_grant", "invalid_grant");

    // An id_token that is no JWT, or lacks claims every ID token has, is
    // a provider not speaking OpenID Connect: unavailable, not refused.
    let mut claims = idp.claims(now, &begun.nonce);
    claims.as_object_mut().unwrap().remove("sub");
    for (case, id_token) in [
        ("not a JWT", "not-a-jwt".to_owned()),
        ("no sub", idp.key.sign(&claims)),
    ] {
        idp.answer_id_token(&id_token);
        unavailable(finish().await, case);
    }
}

#[tokio::test]
async fn a_token_endpoint_down_or_hanging_is_unavailable() {
    let idp = Idp::start().await;
    let limits = OutboundLimits {
        timeout: Duration::from_millis(300),
        ..OutboundLimits::default()
    };
    let now = Millis::now();
    let providers = idp.providers_with(limits);
    let begun = providers.begin(ID, now).await.unwrap();
    let finish = || providers.finish(ID, "code-1", &begun.pkce_verifier, &begun.nonce, now);

    idp.server.set("/token", Reply::Hang);
    let started = std::time::Instant::now();
    unavailable(finish().await, "hanging");
    assert!(started.elapsed() < Duration::from_secs(3));

    idp.server
        .set("/token", Reply::status(503, "<html>maintenance</html>"));
    unavailable(finish().await, "503 with a page");

    // Nothing listens where discovery says the token endpoint is.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let mut document = idp.discovery();
    document["token_endpoint"] = json!(closed);
    idp.serve_discovery(&document);
    let providers = idp.providers_with(limits);
    let begun = providers.begin(ID, now).await.unwrap();
    let result = providers
        .finish(ID, "code-1", &begun.pkce_verifier, &begun.nonce, now)
        .await;
    unavailable(result, "connection refused");
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_unavailable() {
    let idp = Idp::start().await;
    let now = Millis::now();
    for issuer in [
        "https://idp.example.com".to_owned(),
        format!("{}/", idp.issuer),
    ] {
        let mut document = idp.discovery();
        document["issuer"] = json!(issuer);
        idp.serve_discovery(&document);
        let providers = idp.providers();
        unavailable(providers.begin(ID, now).await.map(|_| ()), &issuer);
        let result = providers
            .finish(ID, "code-1", "verifier", "nonce", now)
            .await;
        unavailable(result, &issuer);
    }
    assert_eq!(idp.server.hits("/token"), 0);
}

#[tokio::test]
async fn discovery_sending_enlist_over_plain_http_elsewhere_is_unavailable() {
    let idp = Idp::start().await;
    let now = Millis::now();
    for endpoint in [
        "token_endpoint",
        "userinfo_endpoint",
        "authorization_endpoint",
        "jwks_uri",
    ] {
        let mut document = idp.discovery();
        document[endpoint] = json!("http://example.com/oidc");
        idp.serve_discovery(&document);
        let providers = idp.providers();
        let why = unavailable(providers.begin(ID, now).await.map(|_| ()), endpoint);
        assert!(why.contains("http"), "{endpoint}: {why}");
        let result = providers
            .finish(ID, "code-1", "verifier", "nonce", now)
            .await;
        unavailable(result, endpoint);
    }
    assert_eq!(idp.server.hits("/token"), 0);
}

#[tokio::test]
async fn discovery_down_is_unavailable_and_retried_after_ten_seconds() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    idp.server.set(DISCOVERY, Reply::status(503, "{}"));
    unavailable(providers.begin(ID, now).await.map(|_| ()), "down");
    assert_eq!(idp.server.hits(DISCOVERY), 1);

    // Back up, but within the rest nobody asks it again.
    idp.serve_discovery(&idp.discovery());
    let soon = now.plus(Duration::from_secs(9));
    unavailable(providers.begin(ID, soon).await.map(|_| ()), "resting");
    assert_eq!(idp.server.hits(DISCOVERY), 1);

    let later = now.plus(Duration::from_secs(10));
    providers.begin(ID, later).await.unwrap();
    assert_eq!(idp.server.hits(DISCOVERY), 2);
    let identity = idp
        .sign_in(&providers, later, |claims| idp.key.sign(&claims))
        .await
        .unwrap();
    assert_eq!(identity.subject, "user-1");
    assert_eq!(idp.server.hits(DISCOVERY), 2);
}

#[tokio::test]
async fn discovery_is_kept_an_hour_and_a_stale_one_serves_a_day() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    providers.begin(ID, now).await.unwrap();
    providers
        .begin(ID, now.plus(HOUR - Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(idp.server.hits(DISCOVERY), 1);
    assert_eq!(idp.server.hits("/jwks"), 1);

    let fetched = now.plus(HOUR);
    providers.begin(ID, fetched).await.unwrap();
    assert_eq!(idp.server.hits(DISCOVERY), 2);
    assert_eq!(idp.server.hits("/jwks"), 2);

    // Down an hour later: the last document (and its keys) still serve.
    idp.server.set(DISCOVERY, Reply::status(500, "{}"));
    let down = fetched.plus(HOUR);
    providers.begin(ID, down).await.unwrap();
    assert_eq!(idp.server.hits(DISCOVERY), 3);
    let identity = idp
        .sign_in(&providers, down.plus(Duration::from_secs(1)), |claims| {
            idp.key.sign(&claims)
        })
        .await
        .unwrap();
    assert_eq!(identity.subject, "user-1");
    // Within the ten-second rest, not asked again.
    assert_eq!(idp.server.hits(DISCOVERY), 3);

    let almost_a_day = fetched.plus(24 * HOUR - Duration::from_secs(1));
    providers.begin(ID, almost_a_day).await.unwrap();
    assert_eq!(idp.server.hits(DISCOVERY), 4);
    // A day old, the document is no longer used (and within the rest
    // since that last failure, the provider is not asked).
    let a_day = fetched.plus(24 * HOUR);
    unavailable(providers.begin(ID, a_day).await.map(|_| ()), "a day stale");
    assert_eq!(idp.server.hits(DISCOVERY), 4);
    let later = a_day.plus(Duration::from_secs(10));
    unavailable(providers.begin(ID, later).await.map(|_| ()), "still down");
    assert_eq!(idp.server.hits(DISCOVERY), 5);
}

#[tokio::test]
async fn a_key_the_provider_rotated_in_is_fetched_once_a_minute_at_most() {
    let idp = Idp::start().await;
    let providers = idp.providers();
    let now = Millis::now();
    idp.sign_in(&providers, now, |c| idp.key.sign(&c))
        .await
        .unwrap();
    let fetched = idp.server.received("/jwks").len();

    // The provider publishes a second key and signs with it.
    let rotated = TestKey::rsa(RSA_B, "k2");
    idp.server.set(
        "/jwks",
        Reply::json(&json!({ "keys": [idp.key.jwk, rotated.jwk] }).to_string()),
    );
    let soon = now.plus(Duration::from_secs(30));
    let result = idp.sign_in(&providers, soon, |c| rotated.sign(&c)).await;
    refused(
        result,
        "within a minute of the last fetch",
        "No matching key",
    );
    assert_eq!(
        idp.server.received("/jwks").len(),
        fetched,
        "not fetched again yet"
    );

    let later = now.plus(Duration::from_secs(61));
    let identity = idp
        .sign_in(&providers, later, |c| rotated.sign(&c))
        .await
        .unwrap();
    assert_eq!(identity.subject, "user-1");
    assert_eq!(idp.server.received("/jwks").len(), fetched + 1);
}
