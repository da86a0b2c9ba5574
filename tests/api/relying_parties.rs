//! Mainstream relying-party libraries, unmodified, sign people in with
//! enlist: `openid-client` (npm, panva) and `authlib`'s OpenID Connect
//! client (PyPI). Each runs as its own process against the server over
//! real HTTP (tests/relying-party/) and reports what it saw; the libraries
//! do the checking (discovery, PKCE, state, nonce, the ID token's
//! signature and claims), these tests check what they report.
//! `.ci/run` installs both (`npm ci`, `pip install --target`).

use crate::helpers::*;
use crate::oauth_helpers::*;
use enlist::domain::Millis;
use serde_json::{Value, json};
use std::path::PathBuf;

const LOGOUT_URI: &str = "http://127.0.0.1:9/signed-out";

fn relying_party_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/relying-party")
}

/// Runs `program script args_json` in tests/relying-party and answers the
/// JSON line it printed.
async fn run(
    program: &'static str,
    script: &'static str,
    args: Value,
    env: Vec<(&'static str, String)>,
) -> Value {
    let dir = relying_party_dir();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(program)
            .arg(dir.join(script))
            .arg(args.to_string())
            .current_dir(&dir)
            .envs(env)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{program} could not start ({e}); .ci/run installs it"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}\n{stderr}"))
}

/// A public client registered as a relying party would be.
fn relying_party(app: &TestApp) -> String {
    let new = enlist::services::oauth::NewClient {
        name: "Relying party".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        public: true,
        post_logout_redirect_uris: vec![LOGOUT_URI.into()],
        ..Default::default()
    };
    app.db
        .write_blocking(|tx| enlist::services::oauth::create_client(tx, &new, Millis::now()))
        .unwrap()
        .0
        .client_id
}

#[tokio::test]
async fn openid_client_discovers_signs_in_validates_the_id_token_reads_userinfo_and_signs_out() {
    assert!(
        relying_party_dir()
            .join("node_modules/openid-client")
            .is_dir(),
        "run `npm ci --prefix tests/relying-party` (.ci/run does)"
    );
    let app = spawn_app().await;
    let user_id = app.create_user("iris@example.test", Some(PASSWORD));
    let client_id = relying_party(&app);
    let seen = run(
        "node",
        "openid_client.mjs",
        json!({
            "issuer": app.issuer(),
            "clientId": client_id,
            "redirectUri": REDIRECT_URI,
            "postLogoutRedirectUri": LOGOUT_URI,
            "email": "iris@example.test",
            "password": PASSWORD,
        }),
        Vec::new(),
    )
    .await;

    let claims = &seen["idTokenClaims"];
    assert_eq!(claims["iss"], json!(app.issuer()));
    assert_eq!(claims["sub"], json!(user_id.to_string()));
    assert_eq!(claims["aud"], json!(client_id));
    assert_eq!(claims["email"], json!("iris@example.test"));
    assert_eq!(claims["email_verified"], json!(true));
    assert_eq!(claims["name"], json!("Iris Invitee"));
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(
        claims["auth_time"].is_i64() && claims["nonce"].is_string(),
        "{claims}"
    );
    assert_eq!(seen["scope"], json!("openid email profile invitations"));
    assert_eq!(
        seen["userinfo"],
        json!({
            "sub": user_id.to_string(),
            "email": "iris@example.test",
            "email_verified": true,
            "name": "Iris Invitee",
            "given_name": "Iris",
            "family_name": "Invitee",
        })
    );
    assert_eq!(seen["silentSignOn"], json!({ "code": true, "error": null }));
    assert_eq!(seen["logout"]["status"], json!(303));
    assert_eq!(
        seen["logout"]["location"],
        seen["logout"]["expectedLocation"]
    );
    assert_eq!(seen["afterLogout"], json!("login_required"));
}

#[tokio::test]
async fn authlib_discovers_signs_in_validates_the_id_token_and_reads_userinfo() {
    let site_packages = relying_party_dir().join(".python");
    assert!(
        site_packages.join("authlib").is_dir(),
        "run `python3 -m pip install --target tests/relying-party/.python -r tests/relying-party/requirements.txt` (.ci/run does)"
    );
    let app = spawn_app().await;
    let user_id = app.create_user("iris@example.test", Some(PASSWORD));
    let client_id = relying_party(&app);
    let seen = run(
        "python3",
        "authlib_client.py",
        json!({
            "issuer": app.issuer(),
            "clientId": client_id,
            "redirectUri": REDIRECT_URI,
            "email": "iris@example.test",
            "password": PASSWORD,
        }),
        vec![("PYTHONPATH", site_packages.display().to_string())],
    )
    .await;

    let claims = &seen["idTokenClaims"];
    assert_eq!(claims["iss"], json!(app.issuer()));
    assert_eq!(claims["sub"], json!(user_id.to_string()));
    assert_eq!(claims["aud"], json!(client_id));
    assert_eq!(claims["email"], json!("iris@example.test"));
    assert_eq!(claims["given_name"], json!("Iris"));
    assert_eq!(seen["scope"], json!("openid email profile"));
    assert_eq!(seen["userinfo"]["sub"], json!(user_id.to_string()));
    assert_eq!(seen["userinfo"]["email"], json!("iris@example.test"));
}
