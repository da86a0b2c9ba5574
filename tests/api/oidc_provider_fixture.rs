//! The OpenID provider fixture (tests/support/oidc_provider.rs) is a real
//! provider: it publishes its metadata and keys, its login page signs a
//! person in for enlist's client, its codes exchange for signed ID tokens,
//! and its access tokens for a resource carry the account's email.

use crate::oidc_provider::{self, ENLIST_API, OTHER_API, RESOURCE_SCOPE, jwt_claims, jwt_header};
use serde_json::json;

#[tokio::test]
async fn discovery_names_the_issuer_and_its_endpoints() {
    let provider = oidc_provider::shared();

    let discovery = provider.discovery().await;
    let jwks = provider.jwks().await;

    assert_eq!(discovery["issuer"], provider.issuer());
    assert!(provider.issuer().starts_with("http://127.0.0.1:"));
    assert_eq!(
        discovery["authorization_endpoint"],
        provider.authorization_endpoint()
    );
    assert_eq!(discovery["token_endpoint"], provider.token_endpoint());
    assert_eq!(discovery["userinfo_endpoint"], provider.userinfo_endpoint());
    assert_eq!(discovery["jwks_uri"], provider.jwks_uri());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "ES256"]);
    // Public keys only.
    assert!(jwks["keys"][0].get("d").is_none());
}

#[tokio::test]
async fn an_access_token_for_a_resource_is_a_jwt_for_it_with_the_email() {
    let provider = oidc_provider::shared();

    let token = provider.access_token("alice", ENLIST_API).await;
    let other = provider.access_token("alice", OTHER_API).await;

    let header = jwt_header(&token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    let claims = jwt_claims(&token);
    assert_eq!(claims["aud"], ENLIST_API);
    assert_eq!(claims["iss"], provider.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["scope"], RESOURCE_SCOPE);
    assert_eq!(claims["client_id"], "app");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
    assert_eq!(jwt_claims(&other)["aud"], OTHER_API);
}

#[tokio::test]
async fn bobs_email_is_not_verified() {
    let provider = oidc_provider::shared();

    let claims = jwt_claims(&provider.access_token("bob", ENLIST_API).await);

    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["email"], "bob@example.test");
    assert_eq!(claims["email_verified"], false);
}

#[tokio::test]
async fn an_account_changed_at_the_provider_shows_in_its_next_tokens() {
    let provider = oidc_provider::shared();
    let login = oidc_provider::unique_login("mover");
    let before = jwt_claims(&provider.access_token(&login, ENLIST_API).await);

    provider
        .set_account(&login, "moved@example.test", false, "Mo", "Ver")
        .await;
    let after = jwt_claims(&provider.access_token(&login, ENLIST_API).await);
    let id_token = jwt_claims(&provider.id_token(&login).await);

    assert_eq!(before["email"], format!("{login}@example.test"));
    assert_eq!(before["email_verified"], true);
    assert_eq!(after["sub"], login.as_str());
    assert_eq!(after["email"], "moved@example.test");
    assert_eq!(after["email_verified"], false);
    assert_eq!(id_token["aud"], "app");
    assert_eq!(id_token["name"], "Mo Ver");
    assert_eq!(id_token["given_name"], "Mo");
    assert_eq!(id_token["family_name"], "Ver");
    provider.reset_account(&login).await;
    assert_eq!(
        provider.account(&login).await["email"],
        format!("{login}@example.test")
    );
}

#[tokio::test]
async fn signing_in_for_enlist_returns_a_code_that_exchanges_for_an_id_token() {
    let provider = oidc_provider::shared();
    let pkce = oidc_provider::Pkce::new();
    let state = oidc_provider::random_token();
    let nonce = oidc_provider::random_token();
    // Any loopback port, any provider id.
    let redirect_uri = "http://127.0.0.1:45871/auth/oidc/local/callback";
    let mut authorize = url::Url::parse(&provider.authorization_endpoint()).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", provider.client_id())
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");

    let back = provider
        .sign_in(&oidc_provider::browser(), authorize.as_str(), "carol")
        .await;

    let back = url::Url::parse(&back).unwrap();
    assert_eq!(
        back.as_str().split('?').next().unwrap(),
        redirect_uri,
        "{back}"
    );
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state"), Some(state));
    assert_eq!(param("iss"), Some(provider.issuer()));
    let code = param("code").expect("a code");
    let response = reqwest::Client::new()
        .post(provider.token_endpoint())
        .basic_auth(provider.client_id(), Some(provider.client_secret()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &pkce.verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["iss"], provider.issuer());
    assert_eq!(id_token["aud"], provider.client_id());
    assert_eq!(id_token["sub"], "carol");
    assert_eq!(id_token["nonce"], nonce);
    assert_eq!(id_token["email"], "carol@example.test");
    assert_eq!(id_token["email_verified"], true);
    // The access token without a resource is the userinfo endpoint's.
    let userinfo: serde_json::Value = reqwest::Client::new()
        .get(provider.userinfo_endpoint())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "carol");
    assert_eq!(userinfo["email"], "carol@example.test");
}

#[tokio::test]
async fn a_redirect_uri_off_loopback_or_off_the_callback_path_is_refused() {
    let provider = oidc_provider::shared();
    let pkce = oidc_provider::Pkce::new();
    let browser = oidc_provider::browser();

    for (redirect_uri, allowed) in [
        ("http://127.0.0.1:1/auth/oidc/second/callback", true),
        ("http://127.0.0.1/auth/oidc/corp/callback", true),
        ("http://127.0.0.1:1/auth/oidc/Corp/callback", false),
        ("http://127.0.0.1:1/auth/oidc/a/b/callback", false),
        ("http://127.0.0.1:1/auth/oidc/local/callback?x=1", false),
        ("https://127.0.0.1:1/auth/oidc/local/callback", false),
        ("http://enlist.example/auth/oidc/local/callback", false),
        ("http://127.0.0.1:1/app/callback", false),
    ] {
        let mut authorize = url::Url::parse(&provider.authorization_endpoint()).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", provider.client_id())
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", "s")
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        let response = browser.get(authorize).send().await.unwrap();
        // Allowed: on to the login page. Refused: an error page, no redirect.
        assert_eq!(
            response.status().is_redirection(),
            allowed,
            "{redirect_uri}: {}",
            response.status()
        );
    }
}

#[tokio::test]
async fn a_second_provider_is_another_issuer_with_other_keys() {
    let first = oidc_provider::shared();
    let second = oidc_provider::start();

    let token = second.access_token("alice", ENLIST_API).await;

    assert_ne!(second.issuer(), first.issuer());
    assert_eq!(jwt_claims(&token)["iss"], second.issuer());
    let kid = jwt_header(&token)["kid"].clone();
    let first_kids: Vec<_> = first.jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].clone())
        .collect();
    assert!(!first_kids.contains(&kid));
}
