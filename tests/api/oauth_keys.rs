//! Access tokens are signed with Ed25519 keys (EdDSA) the server publishes
//! as a JWK Set; keys rotate without breaking live tokens, and can come
//! from a file outside the database.

use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use enlist::auth::keys::Ed25519Key;
use enlist::services::signing_keys;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn kid_of_token(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .expect("kid")
}

/// Checks `token` the way a separate resource server would: with nothing
/// but the JWK Set, the issuer and the audience.
fn verify_with_jwks(jwks: &Value, token: &str, issuer: &str) -> Result<Value, String> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
    let kid = kid_of_token(token);
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not published"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["enlist"]);
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn access_tokens_verify_against_the_published_jwks_with_only_the_public_key() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let token = app
        .client_token(&app.bound_client("iris@example.test"))
        .await;

    let metadata = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    let jwks_uri = metadata.body["jwks_uri"].as_str().unwrap().to_owned();
    let published = reqwest::get(&jwks_uri).await.unwrap();
    assert_eq!(published.status(), 200);
    let jwks: Value = published.json().await.unwrap();

    // RFC 7517 / 8037: the public part only.
    assert_eq!(jwks_uri, format!("{}/.well-known/jwks.json", app.issuer()));
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let jwk = keys[0].as_object().unwrap();
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["kid"], kid_of_token(&token));
    assert!(!jwk.contains_key("d"), "no private key in the JWKS: {jwks}");
    let claims = verify_with_jwks(&jwks, &token, &app.issuer()).unwrap();
    assert_eq!(claims["email"], "iris@example.test");
    // A payload changed after signing does not verify.
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = Value::from("1");
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert!(verify_with_jwks(&jwks, &tampered, &app.issuer()).is_err());
}

#[tokio::test]
async fn after_a_rotation_old_tokens_still_verify_and_new_ones_carry_the_new_kid() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let client = app.bound_client("iris@example.test");
    let before = app.client_token(&client).await;
    let old_kid = kid_of_token(&before);

    let retention = signing_keys::retention(app.settings.auth.access_token_lifetime.0);
    let rotated = app
        .db
        .write_blocking(|tx| signing_keys::rotate(tx, retention, app.clock.now()))
        .unwrap();
    let after = app.client_token(&client).await;

    assert_ne!(rotated.kid, old_kid);
    assert_eq!(
        kid_of_token(&after),
        rotated.kid,
        "the new key signs at once"
    );
    for token in [&before, &after] {
        let reply = app.invitee_get("/invitations", token).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let jwks = app.jwks().await;
    assert_eq!(jwks["keys"][0]["kid"], rotated.kid, "the signing key first");
    verify_with_jwks(&jwks, &before, &app.issuer()).unwrap();
    verify_with_jwks(&jwks, &after, &app.issuer()).unwrap();

    // Once every token the old key signed has expired, it is no longer published.
    app.clock.advance(retention + Duration::from_secs(1));
    let jwks = app.jwks().await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [rotated.kid.as_str()]);
    // The next rotation deletes it.
    let again = app
        .db
        .write_blocking(|tx| signing_keys::rotate(tx, retention, app.clock.now()))
        .unwrap();
    assert_eq!(again.dropped, 1);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT count(*) FROM signing_keys WHERE kid = '{old_kid}'"
        )),
        0
    );
}

fn key_file(dir: &std::path::Path, key: &Ed25519Key, mode: u32) -> std::path::PathBuf {
    let path = dir.join("signing-key.pem");
    std::fs::write(&path, key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[tokio::test]
async fn a_signing_key_file_signs_the_tokens_and_stays_out_of_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let key = Ed25519Key::generate();
    let path = key_file(dir.path(), &key, 0o600);
    let app = spawn_app_with(move |s| s.auth.signing_key_file = Some(path)).await;
    app.create_user("iris@example.test", None);

    let token = app
        .client_token(&app.bound_client("iris@example.test"))
        .await;

    assert_eq!(kid_of_token(&token), key.kid());
    verify_with_jwks(&app.jwks().await, &token, &app.issuer()).unwrap();
    assert_eq!(
        app.query_i64("SELECT count(*) FROM signing_keys WHERE private_key IS NOT NULL"),
        0,
        "the private key is not copied into the database"
    );
}

#[tokio::test]
async fn a_signing_key_file_that_is_exposed_malformed_or_missing_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let exposed = key_file(dir.path(), &Ed25519Key::generate(), 0o644);
    let malformed = dir.path().join("malformed.pem");
    std::fs::write(
        &malformed,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&malformed, std::fs::Permissions::from_mode(0o600)).unwrap();
    let missing = dir.path().join("missing.pem");

    for (path, says) in [
        (exposed, "chmod 600"),
        (malformed, "PKCS#8"),
        (missing, "cannot read"),
    ] {
        let mut settings = enlist::config::Settings::default();
        settings.server.bind = "127.0.0.1:0".into();
        settings.database.path = dir.path().join("enlist.db");
        settings.auth.signing_key_file = Some(path.clone());
        let Err(error) = enlist::startup::Application::build(settings) else {
            panic!("{} should stop the start", path.display());
        };
        let message = error.to_string();
        assert!(message.contains(says), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}
