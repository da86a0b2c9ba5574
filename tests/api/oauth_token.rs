//! Access tokens at the invitee API, and the token and revocation endpoints
//! (RFC 6749, RFC 7636, RFC 7009).

use crate::helpers::*;
use crate::oauth_helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use enlist::auth::keys::Ed25519Key;
use enlist::config::HumanDuration;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::Digest;
use std::time::Duration;

const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"enlist\", error=\"invalid_token\"";

/// Claims exactly as the server would issue them for `user_id`/`email`.
fn claims_for(app: &TestApp, user_id: i64, email: &str) -> Value {
    let now = now_secs();
    json!({
        "iss": app.issuer(),
        "sub": user_id.to_string(),
        "aud": "enlist",
        "exp": now + 600,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
        "email": email,
        "email_verified": true,
        "client_id": "enlc_crafted",
        "scope": "invitations",
    })
}

fn assert_invalid_token(reply: &Reply) {
    reply.assert_problem(401, "invalid_token");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(INVALID_TOKEN_CHALLENGE),
        "{:?}",
        reply.headers
    );
}

/// An account, an invitation to it, and the claims of a valid token for it.
async fn invitee_with_invitation(app: &TestApp) -> (Value, String) {
    let org = app.create_org("Acme", "ada@acme.test");
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let user_id = app.create_user("iris@example.test", None);
    (claims_for(app, user_id, "iris@example.test"), uuid)
}

// ---- access tokens at the invitee API ----

#[tokio::test]
async fn a_token_crafted_with_the_servers_key_and_right_claims_is_accepted() {
    // The control for the refusals below: they fail for the one claim or
    // header they change, not because crafting is wrong.
    let app = spawn_app().await;
    let (claims, uuid) = invitee_with_invitation(&app).await;
    let token = sign_token(&claims, &app.signing_key());

    let listed = app.invitee_get("/invitations", &token).await;

    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body[0]["id"], uuid);
}

#[tokio::test]
async fn missing_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;

    let no_header = app
        .request(reqwest::Method::GET, "/invitations", None, None)
        .await;
    let other_scheme = app
        .client
        .get(format!("{}/invitations", app.address))
        .header("Authorization", basic_auth("user", "pass"))
        .send()
        .await
        .unwrap();
    let other_scheme = reply(other_scheme).await;

    for reply in [&no_header, &other_scheme] {
        reply.assert_problem(401, "missing_token");
        let challenge = reply.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(challenge.contains("realm=\"enlist\""), "{challenge}");
    }
}

#[tokio::test]
async fn garbage_token_is_401_invalid_token() {
    let app = spawn_app().await;

    for token in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", ""] {
        let reply = app
            .client
            .get(format!("{}/invitations", app.address))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_invalid_token(&reply_of(reply).await);
    }
}

async fn reply_of(response: reqwest::Response) -> Reply {
    reply(response).await
}

#[tokio::test]
async fn token_signed_with_another_key_is_401() {
    let app = spawn_app().await;
    let (claims, uuid) = invitee_with_invitation(&app).await;
    // Another key, claiming the server's kid.
    let forged = sign_token_as(
        &claims,
        &Ed25519Key::generate(),
        Some(app.signing_key().kid()),
    );

    let list = app.invitee_get("/invitations", &forged).await;
    let accept = app.respond(&uuid, "true", &forged).await;

    assert_invalid_token(&list);
    assert_invalid_token(&accept);
    assert_eq!(
        app.query_string(&format!(
            "SELECT status FROM invitations WHERE uuid = '{uuid}'"
        )),
        "PENDING"
    );
}

#[tokio::test]
async fn expired_token_is_401() {
    let app = spawn_app().await;
    let (mut claims, _) = invitee_with_invitation(&app).await;
    // Past the server's 5 s leeway.
    claims["iat"] = json!(now_secs() - 120);
    claims["exp"] = json!(now_secs() - 60);
    let expired = sign_token(&claims, &app.signing_key());

    let reply = app.invitee_get("/invitations", &expired).await;

    assert_invalid_token(&reply);
}

#[tokio::test]
async fn unsigned_alg_none_token_is_401() {
    let app = spawn_app().await;
    let (claims, _) = invitee_with_invitation(&app).await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());

    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        let reply = app.invitee_get("/invitations", &token).await;
        assert_invalid_token(&reply);
    }
}

#[tokio::test]
async fn token_with_hmac_keyed_with_the_public_key_is_401() {
    let app = spawn_app().await;
    let (claims, _) = invitee_with_invitation(&app).await;
    let key = app.signing_key();
    let jwk_x = URL_SAFE_NO_PAD.encode(key.public_key());

    for secret in [key.public_key().to_vec(), jwk_x.into_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = sign_hmac(&claims, &secret, alg, key.kid());
            assert_invalid_token(&app.invitee_get("/invitations", &token).await);
        }
    }
}

#[tokio::test]
async fn token_with_an_unknown_or_no_kid_is_401_even_with_the_right_key() {
    let app = spawn_app().await;
    let (claims, _) = invitee_with_invitation(&app).await;
    let key = app.signing_key();

    for kid in [Some("not-a-published-kid"), None] {
        let token = sign_token_as(&claims, &key, kid);
        assert_invalid_token(&app.invitee_get("/invitations", &token).await);
    }
}

#[tokio::test]
async fn token_with_wrong_issuer_audience_or_missing_claims_is_401() {
    let app = spawn_app().await;
    let (claims, _) = invitee_with_invitation(&app).await;
    let key = app.signing_key();
    let variant = |name: &str, value: Option<Value>| {
        let mut changed = claims.clone();
        match value {
            Some(value) => changed[name] = value,
            None => {
                changed.as_object_mut().unwrap().remove(name);
            }
        }
        sign_token(&changed, &key)
    };
    let cases = [
        ("wrong iss", variant("iss", Some(json!("http://evil.test")))),
        ("wrong aud", variant("aud", Some(json!("someone-else")))),
        ("no exp", variant("exp", None)),
        ("no iss", variant("iss", None)),
        ("no aud", variant("aud", None)),
        ("no sub", variant("sub", None)),
        (
            "sub not an account id",
            variant("sub", Some(json!("admin"))),
        ),
    ];

    for (case, token) in cases {
        let reply = app.invitee_get("/invitations", &token).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.text);
        assert_invalid_token(&reply);
    }
}

#[tokio::test]
async fn a_fresh_server_generates_its_own_key_and_refuses_another_servers_tokens() {
    let first = spawn_app().await;
    let second = spawn_app().await;
    first.create_user("iris@example.test", None);
    let token = first
        .client_token(&first.bound_client("iris@example.test"))
        .await;

    let reply = second.invitee_get("/invitations", &token).await;

    assert_ne!(first.signing_key().kid(), second.signing_key().kid());
    assert_invalid_token(&reply);
}

#[tokio::test]
async fn signing_key_persists_across_restarts() {
    // Arrange: a token from the first server over a database file.
    // (The issuer is the configured public URL, as in any real deployment:
    // the restarted server listens on another port.)
    const PUBLIC_URL: &str = "https://enlist.example.test";
    let first = spawn_app_with(|s| s.server.public_url = Some(PUBLIC_URL.into())).await;
    first.create_user("iris@example.test", None);
    let token = first
        .client_token(&first.bound_client("iris@example.test"))
        .await;
    let kid = first.signing_key().kid().to_owned();
    assert_eq!(decode_claims(&first, &token)["iss"], PUBLIC_URL);

    // Act: a second server over the same file.
    let (path, url) = (first.db_path.clone(), first.settings.database.url.clone());
    let restarted = spawn_app_with(move |s| {
        s.database.path = path;
        s.database.url = url;
        s.server.public_url = Some(PUBLIC_URL.into());
    })
    .await;
    let reply = restarted.invitee_get("/invitations", &token).await;

    // Assert
    assert_eq!(restarted.signing_key().kid(), kid);
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn access_token_lifetime_follows_the_setting() {
    let app = spawn_app_with(|s| {
        s.auth.access_token_lifetime = HumanDuration(Duration::from_secs(60));
    })
    .await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    let reply = app.client_credentials(&client).await;

    assert_eq!(reply.body["expires_in"], 60, "{}", reply.text);
    let claims = decode_claims(&app, reply.body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
}

// ---- client credentials ----

#[tokio::test]
async fn client_credentials_with_basic_auth_issues_a_bearer_token() {
    // Arrange
    let app = spawn_app().await;
    let user_id = app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    // Act
    let reply = app.client_credentials(&client).await;

    // Assert: RFC 6749 5.1, no refresh token for client credentials.
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let body = reply.body.as_object().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "invitations");
    assert!(!body.contains_key("refresh_token"), "{}", reply.text);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let claims = decode_claims(&app, token);
    assert_eq!(claims["iss"], app.address);
    assert_eq!(claims["sub"], user_id.to_string());
    assert_eq!(claims["aud"], "enlist");
    assert_eq!(claims["email"], "iris@example.test");
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now_secs()).abs() <= 5, "iat {iat}");
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 900);
    uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(app.signing_key().kid()));

    let again = decode_claims(&app, &app.client_token(&client).await);
    assert_ne!(again["jti"], claims["jti"], "every token has its own jti");
}

#[tokio::test]
async fn client_credentials_with_the_secret_in_the_body() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    let reply = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.client_id),
                ("client_secret", client.secret.as_deref().unwrap()),
                ("scope", "invitations"),
            ],
            None,
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let token = reply.body["access_token"].as_str().unwrap();
    assert_eq!(app.invitee_get("/invitations", token).await.status, 200);
}

#[tokio::test]
async fn wrong_or_missing_client_secret_is_401_invalid_client() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");
    let id = client.client_id.as_str();

    let basic = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((id, "wrong-secret")),
        )
        .await;
    let body = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", "wrong-secret"),
            ],
            None,
        )
        .await;
    let no_secret = app
        .token_request(
            &[("grant_type", "client_credentials"), ("client_id", id)],
            None,
        )
        .await;
    let unknown = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some(("enlc_nobody", "secret")),
        )
        .await;

    for reply in [&basic, &body, &no_secret, &unknown] {
        assert_oauth_error(reply, 401, "invalid_client");
        let challenge = reply
            .header("www-authenticate")
            .unwrap_or_else(|| panic!("401 without WWW-Authenticate: {:?}", reply.headers));
        assert!(challenge.starts_with("Basic"), "{challenge}");
    }
}

#[tokio::test]
async fn secret_in_both_header_and_body_is_invalid_request() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");
    let secret = client.secret.as_deref().unwrap();

    let reply = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", secret),
            ],
            Some((&client.client_id, secret)),
        )
        .await;

    assert_oauth_error(&reply, 400, "invalid_request");
}

#[tokio::test]
async fn client_without_a_bound_account_is_unauthorized_client() {
    let app = spawn_app().await;
    let client = app.create_client("Unbound", &[REDIRECT_URI], false, None);

    let reply = app.client_credentials(&client).await;

    assert_oauth_error(&reply, 400, "unauthorized_client");
}

#[tokio::test]
async fn public_client_cannot_use_client_credentials() {
    let app = spawn_app().await;
    let client = app.public_client();

    let reply = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.client_id),
            ],
            None,
        )
        .await;

    assert_oauth_error(&reply, 400, "unauthorized_client");
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let reply = app
            .token_request(
                &[
                    ("grant_type", grant),
                    ("username", "iris@example.test"),
                    ("password", PASSWORD),
                ],
                Some((&client.client_id, client.secret.as_deref().unwrap())),
            )
            .await;
        assert_oauth_error(&reply, 400, "unsupported_grant_type");
    }
}

#[tokio::test]
async fn missing_grant_type_is_invalid_request() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    let reply = app
        .token_request(
            &[("scope", "invitations")],
            Some((&client.client_id, client.secret.as_deref().unwrap())),
        )
        .await;

    assert_oauth_error(&reply, 400, "invalid_request");
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_invalid_request() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    let json_body = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .header(
            "Authorization",
            basic_auth(&client.client_id, client.secret.as_deref().unwrap()),
        )
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    let no_type = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .header(
            "Authorization",
            basic_auth(&client.client_id, client.secret.as_deref().unwrap()),
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();

    assert_oauth_error(&reply(json_body).await, 400, "invalid_request");
    assert_oauth_error(&reply(no_type).await, 400, "invalid_request");
}

#[tokio::test]
async fn repeated_parameter_is_invalid_request() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    let reply = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            Some((&client.client_id, client.secret.as_deref().unwrap())),
        )
        .await;

    assert_oauth_error(&reply, 400, "invalid_request");
}

#[tokio::test]
async fn unknown_scope_is_invalid_scope() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    let reply = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "invitations admin"),
            ],
            Some((&client.client_id, client.secret.as_deref().unwrap())),
        )
        .await;

    assert_oauth_error(&reply, 400, "invalid_scope");
}

#[tokio::test]
async fn token_endpoint_accepts_only_post() {
    let app = spawn_app().await;

    let reply = app
        .request(reqwest::Method::GET, "/oauth/token", None, None)
        .await;

    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
}

// ---- authorization code ----

#[tokio::test]
async fn authorization_code_exchange_issues_access_and_refresh_tokens() {
    // Arrange
    let app = spawn_app().await;
    let client = app.public_client();

    // Act
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;

    // Assert
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["expires_in"], 900);
    assert_eq!(tokens.body["scope"], "invitations");
    assert!(tokens.body["refresh_token"].as_str().unwrap().len() >= 32);
    let claims = decode_claims(&app, tokens.body["access_token"].as_str().unwrap());
    let user_id = app.query_i64("SELECT id FROM users WHERE email_key = 'iris@example.test'");
    assert_eq!(claims["sub"], user_id.to_string());
    assert_eq!(claims["email"], "iris@example.test");
    assert_eq!(claims["iss"], app.address);
    assert_eq!(claims["aud"], "enlist");
    // The refresh token lives `auth.refresh_token_lifetime` (30 days by
    // default) and only its digest is stored.
    assert_eq!(
        app.query_i64("SELECT expires_at - created_at FROM refresh_tokens"),
        30 * 24 * 3600 * 1000
    );
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.query_i64(&format!(
            "SELECT count(*) FROM refresh_tokens WHERE CAST(token_sha256 AS TEXT) = '{refresh_token}'"
        )),
        0
    );
    // The password is stored as argon2id only.
    let hash =
        app.query_string("SELECT password_hash FROM users WHERE email_key = 'iris@example.test'");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn confidential_client_exchanges_a_code_with_pkce() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.create_client("Web app", &[REDIRECT_URI], false, None);
    let sign_in = Intent::SignIn {
        email: "iris@example.test",
        password: PASSWORD,
    };

    let with_pkce = AuthRequest::for_client(&client);
    let code = authorization_code(&app, &with_pkce, sign_in).await;
    let first = exchange_code(&app, &client, &with_pkce, &code).await;

    assert_eq!(first.status, 200, "{}", first.text);
    // Without PKCE the authorization request itself is refused
    // (oauth_authorize::confidential_client_without_pkce_is_refused_with_invalid_request).
}

#[tokio::test]
async fn authorization_code_is_single_use() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let code = authorization_code(&app, &request, sign_up_intent("iris@example.test")).await;

    let first = exchange_code(&app, &client, &request, &code).await;
    let second = exchange_code(&app, &client, &request, &code).await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_oauth_error(&second, 400, "invalid_grant");
}

fn sign_up_intent(email: &str) -> Intent<'_> {
    Intent::SignUp {
        email,
        password: PASSWORD,
        first_name: "Iris",
        last_name: "Invitee",
    }
}

/// A fresh code for `client`; the request it answers.
async fn fresh_code(app: &TestApp, client: &TestClient, email: &str) -> (AuthRequest, String) {
    let request = AuthRequest::for_client(client);
    let code = authorization_code(
        app,
        &request,
        Intent::SignIn {
            email,
            password: PASSWORD,
        },
    )
    .await;
    (request, code)
}

#[tokio::test]
async fn code_exchange_with_a_wrong_or_missing_verifier_or_redirect_uri_is_invalid_grant() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.create_client(
        "SPA",
        &[REDIRECT_URI, "http://127.0.0.1:9/other"],
        true,
        None,
    );

    // Act / Assert: each case with its own code, and the code is then spent.
    let (request, code) = fresh_code(&app, &client, "iris@example.test").await;
    let wrong_verifier = AuthRequest {
        pkce: Some(Pkce::new()),
        ..request.clone()
    };
    let reply = exchange_code(&app, &client, &wrong_verifier, &code).await;
    assert_oauth_error(&reply, 400, "invalid_grant");
    assert_oauth_error(
        &exchange_code(&app, &client, &request, &code).await,
        400,
        "invalid_grant",
    );

    let (request, code) = fresh_code(&app, &client, "iris@example.test").await;
    let no_verifier = AuthRequest {
        pkce: None,
        ..request.clone()
    };
    let reply = exchange_code(&app, &client, &no_verifier, &code).await;
    assert_oauth_error(&reply, 400, "invalid_grant");

    let (request, code) = fresh_code(&app, &client, "iris@example.test").await;
    let other_redirect = AuthRequest {
        redirect_uri: "http://127.0.0.1:9/other".into(),
        ..request.clone()
    };
    let reply = exchange_code(&app, &client, &other_redirect, &code).await;
    assert_oauth_error(&reply, 400, "invalid_grant");

    let (request, code) = fresh_code(&app, &client, "iris@example.test").await;
    let reply = app
        .token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &client.client_id),
                ("code_verifier", &request.pkce.as_ref().unwrap().verifier),
            ],
            None,
        )
        .await;
    assert_oauth_error(&reply, 400, "invalid_grant");
}

#[tokio::test]
async fn a_code_issued_to_another_client_is_invalid_grant() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let owner = app.public_client();
    let thief = app.public_client();
    let (request, code) = fresh_code(&app, &owner, "iris@example.test").await;

    let stolen = exchange_code(&app, &thief, &request, &code).await;
    let rightful = exchange_code(&app, &owner, &request, &code).await;

    assert_oauth_error(&stolen, 400, "invalid_grant");
    // Refused without being used up: its own client still exchanges it.
    assert_eq!(rightful.status, 200, "{}", rightful.text);
    let refreshed = refresh(
        &app,
        &owner,
        rightful.body["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let (request, code) = fresh_code(&app, &client, "iris@example.test").await;
    app.execute("UPDATE oauth_codes SET expires_at = 1");

    let reply = exchange_code(&app, &client, &request, &code).await;

    assert_oauth_error(&reply, 400, "invalid_grant");
}

#[tokio::test]
async fn an_unknown_code_is_invalid_grant() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let reply = exchange_code(&app, &client, &request, "no-such-code").await;

    assert_oauth_error(&reply, 400, "invalid_grant");
}

// ---- refresh tokens ----

#[tokio::test]
async fn refresh_token_rotates_on_every_use() {
    let app = spawn_app().await;
    let client = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let first = tokens.body["refresh_token"].as_str().unwrap().to_owned();

    let second = refresh(&app, &client, &first).await;
    let second_rt = second.body["refresh_token"].as_str().unwrap().to_owned();
    let third = refresh(&app, &client, &second_rt).await;

    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.header("cache-control"), Some("no-store"));
    assert_eq!(third.status, 200, "{}", third.text);
    let third_rt = third.body["refresh_token"].as_str().unwrap();
    assert_ne!(first, second_rt);
    assert_ne!(second_rt, third_rt);
    assert_eq!(second.body["token_type"], "Bearer");
    assert_eq!(second.body["scope"], "invitations");
    let access = third.body["access_token"].as_str().unwrap();
    assert_eq!(app.invitee_get("/invitations", access).await.status, 200);
    assert_eq!(decode_claims(&app, access)["email"], "iris@example.test");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    // Arrange: a family of three generations.
    let app = spawn_app().await;
    let client = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let first = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let second = refresh(&app, &client, &first).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let newest = refresh(&app, &client, &second).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another login of the same person: a separate family.
    let other_family = sign_in_and_get_tokens(&app, &client).await;

    // Act: the first (already rotated) token comes back.
    let reuse = refresh(&app, &client, &first).await;
    let newest_after = refresh(&app, &client, &newest).await;
    let other_after = refresh(&app, &client, &other_family).await;

    // Assert
    assert_oauth_error(&reuse, 400, "invalid_grant");
    assert_oauth_error(&newest_after, 400, "invalid_grant");
    assert_eq!(
        other_after.status, 200,
        "other families are untouched: {}",
        other_after.text
    );
    let digest = app.blob_literal(&sha2::Sha256::digest(first.as_bytes()));
    assert_eq!(
        app.query_i64(&format!(
            "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND family = \
             (SELECT family FROM refresh_tokens WHERE token_sha256 = {digest})"
        )),
        0
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT count(*) FROM refresh_tokens WHERE family = \
             (SELECT family FROM refresh_tokens WHERE token_sha256 = {digest})"
        )),
        3
    );
}

async fn sign_in_and_get_tokens(app: &TestApp, client: &TestClient) -> String {
    let (request, code) = fresh_code(app, client, "iris@example.test").await;
    let tokens = exchange_code(app, client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    tokens.body["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refresh_token_of_another_client_or_unknown_is_invalid_grant() {
    let app = spawn_app().await;
    let client = app.public_client();
    let other = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let rt = tokens.body["refresh_token"].as_str().unwrap();

    let by_other = refresh(&app, &other, rt).await;
    let unknown = refresh(&app, &client, "not-a-refresh-token").await;
    let still_fine = refresh(&app, &client, rt).await;

    assert_oauth_error(&by_other, 400, "invalid_grant");
    assert_oauth_error(&unknown, 400, "invalid_grant");
    assert_eq!(still_fine.status, 200, "{}", still_fine.text);
}

#[tokio::test]
async fn expired_refresh_token_is_invalid_grant() {
    let app = spawn_app().await;
    let client = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    app.execute("UPDATE refresh_tokens SET expires_at = 1");

    let reply = refresh(
        &app,
        &client,
        tokens.body["refresh_token"].as_str().unwrap(),
    )
    .await;

    assert_oauth_error(&reply, 400, "invalid_grant");
}

#[tokio::test]
async fn rotation_never_outlives_the_familys_maximum_lifetime() {
    // Defaults: each refresh token lives 30 days, the family 90 at most.
    let app = spawn_app().await;
    let client = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let started = app.query_i64("SELECT family_started_at FROM refresh_tokens");
    let day = Duration::from_secs(24 * 3600);
    let mut current = tokens.body["refresh_token"].as_str().unwrap().to_owned();

    // Rotated within the sliding lifetime every 29 days: fine until day 87.
    for _ in 0..3 {
        app.clock.advance(day * 29);
        let rotated = refresh(&app, &client, &current).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        current = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    }
    // The token from day 87 ends with the family on day 90, not on day 117.
    let newest_expiry = app.query_i64("SELECT max(expires_at) FROM refresh_tokens");
    assert_eq!(newest_expiry, started + 90 * 24 * 3600 * 1000);
    app.clock.advance(day * 4);
    let past_the_family = refresh(&app, &client, &current).await;

    assert_oauth_error(&past_the_family, 400, "invalid_grant");
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_the_tokens_it_issued() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let code = authorization_code(&app, &request, sign_up_intent("iris@example.test")).await;
    let first = exchange_code(&app, &client, &request, &code).await;
    assert_eq!(first.status, 200, "{}", first.text);
    // The used code is kept, marked used, with the family it started.
    assert_eq!(
        app.query_i64("SELECT count(*) FROM oauth_codes WHERE used_at IS NOT NULL"),
        1
    );

    let replayed = exchange_code(&app, &client, &request, &code).await;
    let after = refresh(&app, &client, first.body["refresh_token"].as_str().unwrap()).await;

    assert_oauth_error(&replayed, 400, "invalid_grant");
    assert_oauth_error(&after, 400, "invalid_grant");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL"),
        0
    );
}

// ---- revocation ----

#[tokio::test]
async fn revoking_a_refresh_token_makes_it_fail() {
    let app = spawn_app().await;
    let client = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let rt = tokens.body["refresh_token"].as_str().unwrap();

    let revoked = app
        .revoke_request(
            &[
                ("token", rt),
                ("token_type_hint", "refresh_token"),
                ("client_id", &client.client_id),
            ],
            None,
        )
        .await;
    let refreshed = refresh(&app, &client, rt).await;

    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.header("cache-control"), Some("no-store"));
    assert_oauth_error(&refreshed, 400, "invalid_grant");
}

#[tokio::test]
async fn revoking_an_unknown_token_answers_200() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");

    let reply = app
        .revoke_request(
            &[("token", "never-issued")],
            Some((&client.client_id, client.secret.as_deref().unwrap())),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn revocation_needs_the_client_to_authenticate_and_spares_other_clients_tokens() {
    let app = spawn_app().await;
    let client = app.public_client();
    app.create_user("eve@example.test", None);
    let other = app.bound_client("eve@example.test");
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let rt = tokens.body["refresh_token"].as_str().unwrap();

    let bad_secret = app
        .revoke_request(&[("token", rt)], Some((&other.client_id, "wrong")))
        .await;
    let by_other = app
        .revoke_request(
            &[("token", rt)],
            Some((&other.client_id, other.secret.as_deref().unwrap())),
        )
        .await;
    let missing_token = app
        .revoke_request(&[("client_id", &client.client_id)], None)
        .await;
    let still_fine = refresh(&app, &client, rt).await;

    assert_oauth_error(&bad_secret, 401, "invalid_client");
    assert_eq!(by_other.status, 200, "{}", by_other.text);
    assert_oauth_error(&missing_token, 400, "invalid_request");
    assert_eq!(still_fine.status, 200, "{}", still_fine.text);
}

#[tokio::test]
async fn a_code_exchanged_twice_at_once_issues_one_token() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let code = authorization_code(&app, &request, sign_up_intent("iris@example.test")).await;

    let (a, b) = tokio::join!(
        exchange_code(&app, &client, &request, &code),
        exchange_code(&app, &client, &request, &code),
    );

    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{} / {}", a.text, b.text);
    let loser = if a.status == 400 { &a } else { &b };
    assert_oauth_error(loser, 400, "invalid_grant");
    assert_eq!(app.query_i64("SELECT count(*) FROM refresh_tokens"), 1);
}
