//! A standard OAuth2 client library (the `oauth2` crate, unmodified)
//! completes both flows against the server, configured from its RFC 8414
//! metadata, and the tokens it gets work on the invitee API.

use crate::helpers::*;
use crate::oauth_helpers::*;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    RedirectUrl, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use std::time::Duration;

/// The endpoints, as a client reads them from the server's metadata.
struct Endpoints {
    authorize: AuthUrl,
    token: TokenUrl,
    revoke: RevocationUrl,
}

async fn discover(app: &TestApp) -> Endpoints {
    let metadata = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await
        .body;
    let url = |name: &str| metadata[name].as_str().unwrap().to_owned();
    Endpoints {
        authorize: AuthUrl::new(url("authorization_endpoint")).unwrap(),
        token: TokenUrl::new(url("token_endpoint")).unwrap(),
        revoke: RevocationUrl::new(url("revocation_endpoint")).unwrap(),
    }
}

/// The library's HTTP client, without redirects as its documentation requires.
fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn oauth2_crate_completes_client_credentials_with_basic_and_post_authentication() {
    // Arrange
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    app.create_user("iris@example.test", None);
    let registered = app.bound_client("iris@example.test");
    let endpoints = discover(&app).await;
    let http = http_client();

    for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = BasicClient::new(ClientId::new(registered.client_id.clone()))
            .set_client_secret(ClientSecret::new(registered.secret.clone().unwrap()))
            .set_token_uri(endpoints.token.clone())
            .set_auth_type(auth_type.clone());

        // Act
        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("invitations".into()))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{auth_type:?}: {e:?}"));

        // Assert
        assert_eq!(token.token_type(), &oauth2::basic::BasicTokenType::Bearer);
        assert_eq!(token.expires_in(), Some(Duration::from_secs(900)));
        assert!(token.refresh_token().is_none());
        assert_eq!(
            token
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            Some(vec!["invitations".to_owned()])
        );
        let listed = app
            .invitee_get("/invitations", token.access_token().secret())
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        assert_eq!(listed.body[0]["id"], uuid);
    }
}

#[tokio::test]
async fn oauth2_crate_completes_the_authorization_code_flow_with_pkce_then_refreshes_and_revokes() {
    // Arrange: a public client, registered like `enlist client create --public`.
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let registered = app.public_client();
    let endpoints = discover(&app).await;
    let http = http_client();
    let client = BasicClient::new(ClientId::new(registered.client_id.clone()))
        .set_auth_uri(endpoints.authorize.clone())
        .set_token_uri(endpoints.token.clone())
        .set_revocation_url(endpoints.revoke.clone())
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("invitations".into()))
        .set_pkce_challenge(challenge)
        .url();

    // Act: the person's browser opens the URL and signs up...
    assert!(
        auth_url
            .as_str()
            .starts_with(&format!("{}/oauth/authorize?", app.address))
    );
    let mut browser = Browser::new(&app);
    let page = browser.open(auth_url.query().unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let check_inbox = browser
        .submit(
            &page,
            Intent::SignUp {
                email: "iris@example.test",
                password: PASSWORD,
                first_name: "Iris",
                last_name: "Invitee",
            },
        )
        .await;
    // ...proves the address from the verification message, which resumes
    // the library's authorization request as it was sent...
    assert!(
        check_inbox.html.contains("Check your inbox"),
        "{}",
        check_inbox.html
    );
    let mut jar = crate::account_helpers::Jar::new(&app);
    jar.keep(&check_inbox);
    let link = crate::account_helpers::latest_link(&app, "verification", "iris@example.test");
    let redirect = jar.follow(&link, None).await;
    let params = redirect.redirect_params();
    assert_eq!(params.get("state"), Some(csrf.secret()));
    let code = AuthorizationCode::new(params["code"].clone());
    // ...and the library exchanges the code with the verifier.
    let token = client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    // Assert: the token works, answers as the seed documents.
    let accepted = app
        .respond(&uuid, "true", token.access_token().secret())
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body, serde_json::json!(org.uuid));

    // Refresh with the library: a new refresh token each time.
    let first_refresh = token.refresh_token().unwrap().clone();
    let refreshed = client
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let second_refresh = refreshed.refresh_token().unwrap().clone();
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    let listed = app
        .invitee_get("/invitations", refreshed.access_token().secret())
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);

    // Revoke. The library builds the RFC 7009 request but refuses to send
    // it to a non-https endpoint (the test server speaks plain http), so
    // the same form goes out through reqwest.
    let refused = client.revoke_token(StandardRevocableToken::RefreshToken(second_refresh.clone()));
    assert!(
        matches!(
            refused,
            Err(oauth2::ConfigurationError::InsecureUrl("revocation"))
        ),
        "{refused:?}"
    );
    let revoked = app
        .revoke_request(
            &[
                ("token", second_refresh.secret().as_str()),
                ("token_type_hint", "refresh_token"),
                ("client_id", registered.client_id.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let after_revoke = client
        .exchange_refresh_token(&second_refresh)
        .request_async(&http)
        .await;
    match after_revoke {
        Err(RequestTokenError::ServerResponse(error)) => {
            assert_eq!(error.error(), &BasicErrorResponseType::InvalidGrant);
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn oauth2_crate_reads_the_servers_rfc6749_errors() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let registered = app.bound_client("iris@example.test");
    let unbound = app.create_client("Unbound", &[REDIRECT_URI], false, None);
    let endpoints = discover(&app).await;
    let http = http_client();
    let client_with = |id: &str, secret: &str| {
        BasicClient::new(ClientId::new(id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_token_uri(endpoints.token.clone())
    };

    let wrong_secret = client_with(&registered.client_id, "wrong")
        .exchange_client_credentials()
        .request_async(&http)
        .await;
    let not_bound = client_with(&unbound.client_id, unbound.secret.as_deref().unwrap())
        .exchange_client_credentials()
        .request_async(&http)
        .await;
    let bad_scope = client_with(&registered.client_id, registered.secret.as_deref().unwrap())
        .exchange_client_credentials()
        .add_scope(Scope::new("admin".into()))
        .request_async(&http)
        .await;

    let code_of = |result: Result<_, _>| match result {
        Err(RequestTokenError::ServerResponse(error)) => {
            let error: oauth2::basic::BasicErrorResponse = error;
            error.error().clone()
        }
        Ok(_) => panic!("expected an error response"),
        Err(other) => panic!("expected an RFC 6749 error body, got {other:?}"),
    };
    assert_eq!(code_of(wrong_secret), BasicErrorResponseType::InvalidClient);
    assert_eq!(
        code_of(not_bound),
        BasicErrorResponseType::UnauthorizedClient
    );
    assert_eq!(code_of(bad_scope), BasicErrorResponseType::InvalidScope);
}
