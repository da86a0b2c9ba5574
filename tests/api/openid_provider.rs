//! enlist as an OpenID provider, over real HTTP: discovery, ID tokens and
//! `userinfo`, `prompt` and `max_age` with single sign-on, consent for
//! third-party clients, RP-initiated logout, RFC 9068 access tokens,
//! resource indicators (RFC 8707) and introspection (RFC 7662). The
//! relying-party libraries (`openid-client`, `authlib`) run against the
//! server in tests/api/relying_parties.rs.

use crate::account_helpers::{Jar, hidden_value};
use crate::helpers::*;
use crate::oauth_helpers::*;
use enlist::domain::Millis;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const LOGOUT_URI: &str = "http://127.0.0.1:9/signed-out";

/// A person with a password and a name.
fn person(app: &TestApp, email: &str) -> i64 {
    app.create_user(email, Some(PASSWORD))
}

/// Signs in on the authorize page in `jar` (which keeps the session):
/// the redirect (or the page that answered instead).
async fn sign_in_at_authorize(jar: &mut Jar, request: &AuthRequest, email: &str) -> Page {
    let path = format!("/oauth/authorize?{}", request.query());
    let shown = jar.get(&path).await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    let mut fields = hidden_inputs(&shown.html, "signin");
    fields.push(("email".into(), email.into()));
    fields.push(("password".into(), PASSWORD.into()));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    jar.post("/oauth/authorize", &fields).await
}

/// `GET /oauth/authorize` for `request` in `jar`'s browser.
async fn open(jar: &mut Jar, request: &AuthRequest) -> Page {
    jar.get(&format!("/oauth/authorize?{}", request.query()))
        .await
}

/// The code in a redirect back to the client, after checking its state.
fn code_of(redirect: &Page, request: &AuthRequest) -> String {
    assert_eq!(redirect.status, 303, "{}", redirect.html);
    let params = redirect.redirect_params();
    assert_eq!(params.get("state"), Some(&request.state));
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {}", redirect.location()))
        .clone()
}

/// The error in a redirect back to the client.
fn error_of(redirect: &Page) -> String {
    assert_eq!(redirect.status, 303, "{}", redirect.html);
    let params = redirect.redirect_params();
    assert!(!params.contains_key("code"), "{}", redirect.location());
    params.get("error").cloned().unwrap_or_default()
}

/// A JWT's header and claims, checked against the server's published key,
/// whatever its audience.
fn verified(app: &TestApp, token: &str) -> (jsonwebtoken::Header, Value) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let kid = header.kid.clone().expect("a kid");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.set_issuer(&[app.issuer()]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_ed_der(&app.public_key(&kid)),
        &validation,
    )
    .unwrap_or_else(|e| panic!("token does not verify: {e}"))
    .claims;
    (header, claims)
}

fn third_party_client(app: &TestApp, name: &str) -> TestClient {
    let new = enlist::services::oauth::NewClient {
        name: name.into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        public: true,
        third_party: true,
        ..Default::default()
    };
    client_from(app, &new)
}

fn client_from(app: &TestApp, new: &enlist::services::oauth::NewClient) -> TestClient {
    let (client, secret) = app
        .db
        .write_blocking(|tx| enlist::services::oauth::create_client(tx, new, Millis::now()))
        .unwrap();
    TestClient {
        client_id: client.client_id,
        secret,
        redirect_uri: REDIRECT_URI.into(),
    }
}

#[tokio::test]
async fn discovery_publishes_the_oauth_metadata_and_what_openid_connect_adds() {
    let app = spawn_app().await;
    let oauth = app
        .request(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    let openid = app
        .request(Method::GET, "/.well-known/openid-configuration", None, None)
        .await;
    assert_eq!(openid.status, 200, "{}", openid.text);
    for (key, value) in oauth.body.as_object().unwrap() {
        assert_eq!(&openid.body[key], value, "{key}");
    }
    let issuer = app.issuer();
    assert_eq!(openid.body["issuer"], json!(issuer));
    assert_eq!(
        openid.body["userinfo_endpoint"],
        json!(format!("{issuer}/userinfo"))
    );
    assert_eq!(
        openid.body["end_session_endpoint"],
        json!(format!("{issuer}/oauth/logout"))
    );
    assert_eq!(openid.body["subject_types_supported"], json!(["public"]));
    assert_eq!(
        openid.body["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    assert_eq!(
        openid.body["scopes_supported"],
        json!(["openid", "email", "profile", "invitations", "organizations"])
    );
    assert_eq!(
        oauth.body["introspection_endpoint"],
        json!(format!("{issuer}/oauth/introspect"))
    );
}

#[tokio::test]
async fn a_code_flow_with_openid_answers_an_id_token_about_the_person_and_the_sign_in() {
    let app = spawn_app().await;
    let user_id = person(&app, "iris@example.test");
    let client = app.public_client();
    let nonce = "n-0S6_WzA2Mj & ü";
    let request = AuthRequest::for_client(&client)
        .with("scope", "openid email profile invitations")
        .with("nonce", nonce);
    let mut jar = Jar::new(&app);
    let signed_in_at = app.clock.now();
    let redirect = sign_in_at_authorize(&mut jar, &request, "iris@example.test").await;
    let code = code_of(&redirect, &request);
    app.clock.advance(Duration::from_secs(30));
    let tokens = exchange_code(&app, &client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.body["scope"], "openid email profile invitations");

    let (header, id) = verified(&app, tokens.body["id_token"].as_str().unwrap());
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    // The clock runs on from where the test set it: a second may pass.
    let now = app.clock.now().0 / 1000;
    let near = |value: &Value, expected: i64| (value.as_i64().unwrap() - expected).abs() <= 2;
    assert_eq!(id["iss"], json!(app.issuer()));
    assert_eq!(id["sub"], json!(user_id.to_string()));
    assert_eq!(id["aud"], json!(client.client_id));
    assert!(near(&id["iat"], now), "{id}");
    assert!(id["exp"].as_i64().unwrap() > now);
    assert!(near(&id["auth_time"], signed_in_at.0 / 1000), "{id}");
    assert_eq!(id["nonce"], json!(nonce));
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["email"], json!("iris@example.test"));
    assert_eq!(id["email_verified"], json!(true));
    assert_eq!(id["name"], json!("Iris Invitee"));
    assert_eq!(id["given_name"], json!("Iris"));
    assert_eq!(id["family_name"], json!("Invitee"));

    // The access token is an RFC 9068 JWT for enlist's API.
    let access = tokens.body["access_token"].as_str().unwrap();
    let (header, claims) = verified(&app, access);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["aud"], json!("enlist"));
    assert_eq!(claims["client_id"], json!(client.client_id));
    assert_eq!(claims["scope"], json!("openid email profile invitations"));
    assert_eq!(claims["sub"], json!(user_id.to_string()));
    assert_eq!(app.invitee_get("/invitations", access).await.status, 200);

    // userinfo says the same of the person, by GET and by POST.
    for method in [Method::GET, Method::POST] {
        let info = app.bearer(method, "/userinfo", access).await;
        assert_eq!(info.status, 200, "{}", info.text);
        assert_eq!(info.header("cache-control"), Some("no-store"));
        assert_eq!(
            info.body,
            json!({
                "sub": user_id.to_string(),
                "email": "iris@example.test",
                "email_verified": true,
                "name": "Iris Invitee",
                "given_name": "Iris",
                "family_name": "Invitee",
            })
        );
    }
    // An ID token is not an access token.
    let id_token = tokens.body["id_token"].as_str().unwrap();
    assert_eq!(
        app.bearer(Method::GET, "/userinfo", id_token).await.status,
        401
    );
    assert_eq!(app.invitee_get("/invitations", id_token).await.status, 401);
}

#[tokio::test]
async fn scopes_decide_the_claims_the_tokens_and_what_the_invitee_api_allows() {
    let app = spawn_app().await;
    let user_id = person(&app, "iris@example.test");
    let client = app.public_client();

    // Without openid: no ID token, and userinfo refuses (RFC 6750).
    let plain = AuthRequest::for_client(&client);
    let mut jar = Jar::new(&app);
    let code = code_of(
        &sign_in_at_authorize(&mut jar, &plain, "iris@example.test").await,
        &plain,
    );
    let tokens = exchange_code(&app, &client, &plain, &code).await;
    assert!(tokens.body.get("id_token").is_none(), "{}", tokens.text);
    assert_eq!(tokens.body["scope"], "invitations");
    let refused = app
        .bearer(
            Method::GET,
            "/userinfo",
            tokens.body["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.body["error"], "insufficient_scope");
    assert!(
        refused
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );

    // openid alone: an ID token and userinfo with `sub` only, no nonce
    // (none was sent: allowed with PKCE), and no invitee API.
    let openid = AuthRequest::for_client(&client).with("scope", "openid");
    let code = code_of(&open(&mut jar, &openid).await, &openid);
    let tokens = exchange_code(&app, &client, &openid, &code).await;
    let (_, id) = verified(&app, tokens.body["id_token"].as_str().unwrap());
    assert!(id.get("nonce").is_none() && id.get("email").is_none() && id.get("name").is_none());
    assert_eq!(id["sub"], json!(user_id.to_string()));
    let access = tokens.body["access_token"].as_str().unwrap();
    let info = app.bearer(Method::GET, "/userinfo", access).await;
    assert_eq!(info.body, json!({ "sub": user_id.to_string() }));
    app.invitee_get("/invitations", access)
        .await
        .assert_problem(403, "missing_scope");

    // An unknown scope goes back to the client.
    let unknown = AuthRequest::for_client(&client).with("scope", "openid admin");
    let answer = open(&mut jar, &unknown).await;
    assert_eq!(error_of(&answer), "invalid_scope");

    // A refresh keeps the scope; it may narrow it, never widen it.
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap();
    let wider = app
        .token_request(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", &client.client_id),
                ("scope", "openid invitations"),
            ],
            None,
        )
        .await;
    assert_oauth_error(&wider, 400, "invalid_scope");
    let refreshed = refresh(&app, &client, refresh_token).await;
    assert_eq!(
        refreshed.status, 200,
        "the refused widening used nothing: {}",
        refreshed.text
    );
    assert_eq!(refreshed.body["scope"], "openid");
    assert!(refreshed.body.get("id_token").is_none());
}

#[tokio::test]
async fn prompt_and_max_age_decide_whether_a_signed_in_browser_signs_in_again() {
    let app = spawn_app().await;
    person(&app, "iris@example.test");
    let client = app.public_client();
    let oidc = || AuthRequest::for_client(&client).with("scope", "openid");
    let mut jar = Jar::new(&app);

    // Not signed in: prompt=none answers login_required; an unknown or a
    // contradictory prompt, invalid_request.
    let none = oidc().with("prompt", "none");
    assert_eq!(error_of(&open(&mut jar, &none).await), "login_required");
    for bad in ["create", "none login"] {
        let request = oidc().with("prompt", bad);
        assert_eq!(
            error_of(&open(&mut jar, &request).await),
            "invalid_request",
            "{bad}"
        );
    }
    let bad_age = oidc().with("max_age", "soon");
    assert_eq!(error_of(&open(&mut jar, &bad_age).await), "invalid_request");

    // Signed in once: later requests get a code without a page.
    let first = oidc();
    let signed_in_at = app.clock.now();
    code_of(
        &sign_in_at_authorize(&mut jar, &first, "iris@example.test").await,
        &first,
    );
    app.clock.advance(Duration::from_secs(600));
    for request in [
        oidc(),
        oidc().with("prompt", "none"),
        oidc().with("max_age", "3600"),
    ] {
        let code = code_of(&open(&mut jar, &request).await, &request);
        let tokens = exchange_code(&app, &client, &request, &code).await;
        let (_, id) = verified(&app, tokens.body["id_token"].as_str().unwrap());
        let auth_time = id["auth_time"].as_i64().unwrap();
        assert!(
            (auth_time - signed_in_at.0 / 1000).abs() <= 2,
            "the first sign-in: {id}"
        );
    }

    // A sign-in older than max_age, or prompt=login: the page again (and
    // prompt=none cannot), then a fresh auth_time.
    let stale_none = oidc().with("max_age", "60").with("prompt", "none");
    assert_eq!(
        error_of(&open(&mut jar, &stale_none).await),
        "login_required"
    );
    for request in [oidc().with("max_age", "60"), oidc().with("prompt", "login")] {
        let page = open(&mut jar, &request).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("id=\"signin-email\""));
    }
    let again = oidc().with("prompt", "login");
    let fresh_at = app.clock.now();
    let code = code_of(
        &sign_in_at_authorize(&mut jar, &again, "iris@example.test").await,
        &again,
    );
    let tokens = exchange_code(&app, &client, &again, &code).await;
    let (_, id) = verified(&app, tokens.body["id_token"].as_str().unwrap());
    let auth_time = id["auth_time"].as_i64().unwrap();
    assert!(
        (auth_time - fresh_at.0 / 1000).abs() <= 2,
        "the new sign-in: {id}"
    );
    assert!(auth_time - signed_in_at.0 / 1000 >= 600);
}

#[tokio::test]
async fn a_third_party_client_asks_consent_once_and_the_account_page_withdraws_it() {
    let app = spawn_app().await;
    person(&app, "iris@example.test");
    let client = third_party_client(&app, "Photo Printer");
    let request = || AuthRequest::for_client(&client).with("scope", "openid email invitations");
    let mut jar = Jar::new(&app);

    // Signed in, the person is asked; denying goes back with access_denied.
    let first = request();
    let asked = sign_in_at_authorize(&mut jar, &first, "iris@example.test").await;
    assert_eq!(asked.status, 303, "{}", asked.html);
    let consent_path = asked.header("location").unwrap().to_owned();
    assert!(
        consent_path.starts_with("/oauth/authorize?"),
        "{consent_path}"
    );
    let consent = jar.get(&consent_path).await;
    assert_eq!(consent.status, 200, "{}", consent.html);
    assert!(
        consent
            .html
            .contains("Allow Photo Printer to use your account?")
    );
    assert!(consent.html.contains("See your email address"));
    assert!(consent.html.contains("See your invitations"));
    let denied = post_consent(&mut jar, &form_hidden_fields(&consent.html), "deny").await;
    assert_eq!(error_of(&denied), "access_denied");
    // prompt=none cannot ask.
    let silent = request().with("prompt", "none");
    assert_eq!(error_of(&open(&mut jar, &silent).await), "consent_required");

    // Allowed: a code, and the next request needs no page.
    let second = request();
    let consent = open(&mut jar, &second).await;
    assert_eq!(consent.status, 200);
    let allowed = post_consent(&mut jar, &form_hidden_fields(&consent.html), "allow").await;
    let code = code_of(&allowed, &second);
    assert_eq!(
        exchange_code(&app, &client, &second, &code).await.status,
        200
    );
    let third = request();
    code_of(&open(&mut jar, &third).await, &third);
    // Asking for more (profile), or prompt=consent, asks again.
    for more in [
        AuthRequest::for_client(&client).with("scope", "openid profile"),
        request().with("prompt", "consent"),
    ] {
        let page = open(&mut jar, &more).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("id=\"consent-allow\""));
    }

    // The account page lists the app; withdrawing it ends its refresh
    // tokens and the next request asks again.
    let fourth = request();
    let code = code_of(&open(&mut jar, &fourth).await, &fourth);
    let tokens = exchange_code(&app, &client, &fourth, &code).await;
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let account = jar.get("/account").await;
    assert!(account.html.contains("Photo Printer"), "{}", account.html);
    let row_id = app.query_i64(&format!(
        "SELECT id FROM oauth_clients WHERE client_id = '{}'",
        client.client_id
    ));
    let csrf = hidden_value(&account.html, "csrf_token").unwrap();
    let withdrawn = jar
        .post(
            &format!("/account/consents/{row_id}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(withdrawn.status, 303, "{}", withdrawn.html);
    assert_oauth_error(
        &refresh(&app, &client, &refresh_token).await,
        400,
        "invalid_grant",
    );
    let account = jar.get("/account").await;
    assert!(
        account.html.contains("id=\"no-consents\""),
        "{}",
        account.html
    );
    let fifth = request();
    let page = open(&mut jar, &fifth).await;
    assert!(page.html.contains("id=\"consent-allow\""));
    // Withdrawing again: nothing to withdraw.
    let again = jar
        .post(
            &format!("/account/consents/{row_id}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(again.status, 404);

    // First-party clients (the default) never ask.
    let own = app.public_client();
    let request = AuthRequest::for_client(&own).with("scope", "openid email");
    code_of(&open(&mut jar, &request).await, &request);
}

/// Every hidden field of the page's one form (the consent form).
fn form_hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for input in html.split("<input type=\"hidden\" ").skip(1) {
        let name = input
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        let value = input
            .split("value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        if let (Some(name), Some(value)) = (name, value) {
            fields.push((name.to_owned(), unescape(value)));
        }
    }
    fields
}

async fn post_consent(jar: &mut Jar, fields: &[(String, String)], decision: &str) -> Page {
    let mut fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.push(("decision", decision));
    jar.post("/oauth/authorize/consent", &fields).await
}

#[tokio::test]
async fn logout_ends_the_session_and_returns_only_to_a_registered_address() {
    let app = spawn_app().await;
    person(&app, "iris@example.test");
    let client = client_from(
        &app,
        &enlist::services::oauth::NewClient {
            name: "Web app".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            public: true,
            post_logout_redirect_uris: vec![LOGOUT_URI.into()],
            ..Default::default()
        },
    );
    let mut jar = Jar::new(&app);
    let request = AuthRequest::for_client(&client).with("scope", "openid");
    let code = code_of(
        &sign_in_at_authorize(&mut jar, &request, "iris@example.test").await,
        &request,
    );
    let tokens = exchange_code(&app, &client, &request, &code).await;
    let id_token = tokens.body["id_token"].as_str().unwrap().to_owned();
    let logout = |hint: &str, uri: &str| {
        serde_urlencoded::to_string([
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", uri),
            ("state", "s&1"),
        ])
        .unwrap()
    };

    // An unregistered address or a token not ours: a page, and the session stays.
    for query in [
        logout(&id_token, "http://127.0.0.1:9/elsewhere"),
        logout("eyJhbGciOiJub25lIn0.e30.", LOGOUT_URI),
        serde_urlencoded::to_string([("post_logout_redirect_uri", LOGOUT_URI)]).unwrap(),
    ] {
        let refused = jar.get(&format!("/oauth/logout?{query}")).await;
        assert_eq!(refused.status, 400, "{query}: {}", refused.html);
    }
    let still = AuthRequest::for_client(&client)
        .with("scope", "openid")
        .with("prompt", "none");
    code_of(&open(&mut jar, &still).await, &still);

    // The hint names the signed-in person: signed out at once, back to the
    // client with its state, the cookie gone and the session ended for good.
    let session = jar
        .cookies
        .get("enlist_session")
        .cloned()
        .expect("a session cookie");
    let done = jar
        .get(&format!("/oauth/logout?{}", logout(&id_token, LOGOUT_URI)))
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(
        done.location().as_str(),
        format!("{LOGOUT_URI}?state=s%261")
    );
    assert!(
        done.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|c| c.starts_with("enlist_session=") && c.contains("Max-Age=0")),
        "{:?}",
        done.headers
    );
    let mut replay = Jar::new(&app);
    replay.cookies.insert("enlist_session".into(), session);
    let after = AuthRequest::for_client(&client)
        .with("scope", "openid")
        .with("prompt", "none");
    assert_eq!(
        error_of(
            &replay
                .get(&format!("/oauth/authorize?{}", after.query()))
                .await
        ),
        "login_required"
    );

    // Without a hint, the person confirms first (a link elsewhere cannot
    // sign them out).
    let request = AuthRequest::for_client(&client).with("scope", "openid");
    code_of(
        &sign_in_at_authorize(&mut jar, &request, "iris@example.test").await,
        &request,
    );
    let query = serde_urlencoded::to_string([
        ("client_id", client.client_id.as_str()),
        ("post_logout_redirect_uri", LOGOUT_URI),
    ])
    .unwrap();
    let ask = jar.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(ask.status, 200, "{}", ask.html);
    assert!(ask.html.contains("Sign out of enlist?"));
    let still = AuthRequest::for_client(&client)
        .with("scope", "openid")
        .with("prompt", "none");
    code_of(&open(&mut jar, &still).await, &still);
    let mut fields = form_hidden_fields(&ask.html);
    fields.retain(|(name, _)| name != "decision");
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let confirmed = jar.post("/oauth/logout", &fields).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.html);
    assert_eq!(confirmed.location().as_str(), LOGOUT_URI);
    let after = AuthRequest::for_client(&client)
        .with("scope", "openid")
        .with("prompt", "none");
    assert_eq!(error_of(&open(&mut jar, &after).await), "login_required");
    // Without the CSRF token, the confirmation changes nothing.
    let forged = jar
        .post("/oauth/logout", &[("post_logout_redirect_uri", LOGOUT_URI)])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.html);
}

#[tokio::test]
async fn resource_indicators_make_tokens_for_an_apps_own_api_and_introspection_describes_them() {
    let app = spawn_app().await;
    let api = "https://api.photos.test/";
    let user_id = app.create_user("bot@example.test", None);
    // The app's client may ask tokens for its API; its resource server
    // introspects what it is sent.
    let app_client = client_from(
        &app,
        &enlist::services::oauth::NewClient {
            name: "Photos".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            user: Some(enlist::domain::Email::parse("bot@example.test").unwrap()),
            resources: vec![api.into()],
            ..Default::default()
        },
    );
    let resource_server = client_from(
        &app,
        &enlist::services::oauth::NewClient {
            name: "Photos API".into(),
            resources: vec![api.into()],
            ..Default::default()
        },
    );
    let stranger = client_from(
        &app,
        &enlist::services::oauth::NewClient {
            name: "Someone else".into(),
            ..Default::default()
        },
    );
    let basic =
        |client: &TestClient| Some((client.client_id.clone(), client.secret.clone().unwrap()));
    let token_for = |resource: Option<&str>| {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        form.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let post = |form: Vec<(String, String)>, who: Option<(String, String)>| {
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let who = who
                .as_ref()
                .map(|(id, secret)| (id.as_str(), secret.as_str()));
            app.token_request(&form, who).await
        }
    };

    let for_api = post(token_for(Some(api)), basic(&app_client)).await;
    assert_eq!(for_api.status, 200, "{}", for_api.text);
    let api_token = for_api.body["access_token"].as_str().unwrap().to_owned();
    let (header, claims) = verified(&app, &api_token);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["aud"], json!(api));
    assert_eq!(claims["client_id"], json!(app_client.client_id));
    // A token minted for the app's API does not open enlist's.
    assert_eq!(
        app.invitee_get("/invitations", &api_token).await.status,
        401
    );
    assert_eq!(
        app.bearer(Method::GET, "/userinfo", &api_token)
            .await
            .status,
        401
    );
    // A resource the client is not registered for: invalid_target.
    let other = post(
        token_for(Some("https://api.other.test/")),
        basic(&app_client),
    )
    .await;
    assert_oauth_error(&other, 400, "invalid_target");
    let own_token = post(token_for(None), basic(&app_client)).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Introspection: the resource server learns about tokens for its API,
    // the client about its own; nobody else learns anything.
    let introspect = |token: String, who: Option<(String, String)>| {
        let app = &app;
        async move {
            let who = who
                .as_ref()
                .map(|(id, secret)| (id.as_str(), secret.as_str()));
            let reply = app
                .introspect_request(&[("token", token.as_str())], who)
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply.body
        }
    };
    let seen = introspect(api_token.clone(), basic(&resource_server)).await;
    assert_eq!(seen["active"], json!(true));
    assert_eq!(seen["aud"], json!(api));
    assert_eq!(seen["sub"], json!(user_id.to_string()));
    assert_eq!(seen["client_id"], json!(app_client.client_id));
    assert_eq!(seen["scope"], json!("invitations"));
    assert_eq!(seen["username"], json!("bot@example.test"));
    assert_eq!(seen["iss"], json!(app.issuer()));
    assert!(seen["exp"].as_i64().unwrap() > seen["iat"].as_i64().unwrap());
    assert_eq!(
        introspect(own_token.clone(), basic(&app_client)).await["active"],
        json!(true)
    );
    for (token, who) in [
        (own_token.clone(), basic(&resource_server)),
        (api_token.clone(), basic(&stranger)),
        ("not-a-token".to_owned(), basic(&app_client)),
    ] {
        assert_eq!(introspect(token, who).await, json!({ "active": false }));
    }
    // Public clients cannot introspect; expired tokens are inactive.
    let public = app.public_client();
    let refused = app
        .introspect_request(
            &[("token", &api_token), ("client_id", &public.client_id)],
            None,
        )
        .await;
    assert_oauth_error(&refused, 401, "invalid_client");
    app.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(
        introspect(api_token, basic(&resource_server)).await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn a_resource_named_at_authorization_is_the_audience_and_refresh_tokens_introspect_to_their_client()
 {
    let app = spawn_app().await;
    person(&app, "iris@example.test");
    let api = "https://api.photos.test/";
    let client = client_from(
        &app,
        &enlist::services::oauth::NewClient {
            name: "Photos".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            resources: vec![api.into()],
            ..Default::default()
        },
    );
    let mut jar = Jar::new(&app);
    let unknown = AuthRequest::for_client(&client).with("resource", "https://nope.test/");
    let first = AuthRequest::for_client(&client);
    code_of(
        &sign_in_at_authorize(&mut jar, &first, "iris@example.test").await,
        &first,
    );
    assert_eq!(error_of(&open(&mut jar, &unknown).await), "invalid_target");
    let request = AuthRequest::for_client(&client).with("resource", api);
    let code = code_of(&open(&mut jar, &request).await, &request);
    let tokens = exchange_code(&app, &client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let (_, claims) = verified(&app, tokens.body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], json!(api));
    // Refreshed, the tokens stay for that API.
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap();
    let secret = client.secret.clone().unwrap();
    let basic = Some((client.client_id.as_str(), secret.as_str()));
    let seen = app
        .introspect_request(&[("token", refresh_token)], basic)
        .await;
    assert_eq!(seen.body["active"], json!(true), "{}", seen.text);
    assert_eq!(seen.body["token_type"], json!("refresh_token"));
    let refreshed = refresh(&app, &client, refresh_token).await;
    let (_, claims) = verified(&app, refreshed.body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], json!(api));
    // The used refresh token is no longer active.
    let seen = app
        .introspect_request(&[("token", refresh_token)], basic)
        .await;
    assert_eq!(seen.body, json!({ "active": false }));
}

#[tokio::test]
async fn a_fresh_sign_in_for_a_third_party_client_leads_to_its_consent_not_to_another_sign_in() {
    let app = spawn_app().await;
    person(&app, "iris@example.test");
    let client = third_party_client(&app, "Photo Printer");
    let request = AuthRequest::for_client(&client)
        .with("scope", "openid")
        .with("prompt", "login consent")
        .with("max_age", "0");
    let mut jar = Jar::new(&app);
    let signed_in = sign_in_at_authorize(&mut jar, &request, "iris@example.test").await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    let consent_path = signed_in.header("location").unwrap().to_owned();
    assert!(!consent_path.contains("max_age"), "{consent_path}");
    assert!(!consent_path.contains("login"), "{consent_path}");
    app.clock.advance(Duration::from_secs(5));
    let consent = jar.get(&consent_path).await;
    assert_eq!(consent.status, 200, "{}", consent.html);
    assert!(
        consent.html.contains("id=\"consent-allow\""),
        "{}",
        consent.html
    );
    let allowed = post_consent(&mut jar, &form_hidden_fields(&consent.html), "allow").await;
    let code = code_of(&allowed, &request);
    let tokens = exchange_code(&app, &client, &request, &code).await;
    assert!(tokens.body["id_token"].is_string(), "{}", tokens.text);
}

/// The `organizations` claim of a token's JWT or `userinfo`, as a list of
/// (name, role, permissions).
fn memberships_in(claims: &Value) -> Vec<(String, String, Value)> {
    claims["organizations"]
        .as_array()
        .unwrap_or_else(|| panic!("no organizations claim in {claims}"))
        .iter()
        .map(|org| {
            assert!(org["id"].is_i64(), "{org}");
            assert!(
                org["uuid"].as_str().is_some_and(|uuid| uuid.len() == 36),
                "{org}"
            );
            (
                org["name"].as_str().unwrap().to_owned(),
                org["role"].as_str().unwrap().to_owned(),
                org["permissions"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_organizations_scope_puts_memberships_with_role_and_permissions_in_the_tokens() {
    let app = spawn_app().await;
    person(&app, "iris@example.test");
    let acme = app.create_org("Acme", "ada@acme.test");
    let globex = app.create_org("Globex", "gus@globex.test");
    let made = app
        .post(
            "/v1/organization/roles",
            &acme.key,
            &json!({"key": "billing", "name": "Billing", "permissions": ["invoices:read", "members:manage"]}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    app.add_member(acme.id, "iris@example.test", "billing");
    app.add_member(globex.id, "iris@example.test", "ADMIN");
    let expected = vec![
        (
            "Acme".to_owned(),
            "billing".to_owned(),
            json!(["invoices:read", "members:manage"]),
        ),
        (
            "Globex".to_owned(),
            "ADMIN".to_owned(),
            json!([
                "api_keys:manage",
                "invitations:manage",
                "join_links:manage",
                "members:manage",
                "organization:manage",
                "roles:manage",
                "teams:manage",
                "webhooks:manage"
            ]),
        ),
    ];

    let client = app.public_client();
    let request = AuthRequest::for_client(&client).with("scope", "openid organizations");
    let mut jar = Jar::new(&app);
    let code = code_of(
        &sign_in_at_authorize(&mut jar, &request, "iris@example.test").await,
        &request,
    );
    let tokens = exchange_code(&app, &client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.body["scope"], "openid organizations");
    let (_, id) = verified(&app, tokens.body["id_token"].as_str().unwrap());
    assert_eq!(memberships_in(&id), expected);
    assert_eq!(id["organizations"][0]["id"], json!(acme.id));
    assert_eq!(id["organizations"][0]["uuid"], json!(acme.uuid.to_string()));
    assert!(id.get("organizations_truncated").is_none(), "{id}");
    let access = tokens.body["access_token"].as_str().unwrap();
    let (_, claims) = verified(&app, access);
    assert_eq!(memberships_in(&claims), expected);
    let info = app.bearer(Method::GET, "/userinfo", access).await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(memberships_in(&info.body), expected);
    // The claim does not stand in for the invitee API's scope.
    app.invitee_get("/invitations", access)
        .await
        .assert_problem(403, "missing_scope");

    // A refresh tells the memberships as they are now.
    let left = app
        .request(
            Method::DELETE,
            &format!(
                "/v1/organization/users/{}",
                app.query_i64("SELECT id FROM users WHERE email = 'iris@example.test'")
            ),
            Some(&globex.key),
            None,
        )
        .await;
    assert_eq!(left.status, 200, "{}", left.text);
    let refreshed = refresh(
        &app,
        &client,
        tokens.body["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let (_, claims) = verified(&app, refreshed.body["access_token"].as_str().unwrap());
    assert_eq!(memberships_in(&claims), expected[..1].to_vec());

    // Without the scope, no claim anywhere.
    let plain = AuthRequest::for_client(&client).with("scope", "openid email");
    let code = code_of(&open(&mut jar, &plain).await, &plain);
    let tokens = exchange_code(&app, &client, &plain, &code).await;
    let (_, id) = verified(&app, tokens.body["id_token"].as_str().unwrap());
    assert!(id.get("organizations").is_none(), "{id}");
    let access = tokens.body["access_token"].as_str().unwrap();
    assert!(verified(&app, access).1.get("organizations").is_none());
    let info = app.bearer(Method::GET, "/userinfo", access).await;
    assert!(info.body.get("organizations").is_none(), "{}", info.text);
}

#[tokio::test]
async fn the_organizations_claim_stops_at_fifty_and_says_it_did() {
    let app = spawn_app().await;
    person(&app, "iris@example.test");
    let mut first = None;
    for n in 0..51 {
        let org = app.create_org(&format!("Org{n:02}"), &format!("admin{n}@example.test"));
        app.add_member(org.id, "iris@example.test", "MEMBER");
        first.get_or_insert(org.id);
    }
    let client = app.public_client();
    let request = AuthRequest::for_client(&client).with("scope", "openid organizations");
    let mut jar = Jar::new(&app);
    let code = code_of(
        &sign_in_at_authorize(&mut jar, &request, "iris@example.test").await,
        &request,
    );
    let tokens = exchange_code(&app, &client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let (_, id) = verified(&app, tokens.body["id_token"].as_str().unwrap());
    let access = tokens.body["access_token"].as_str().unwrap();
    let info = app.bearer(Method::GET, "/userinfo", access).await;
    for claims in [id, verified(&app, access).1, info.body] {
        let listed = memberships_in(&claims);
        assert_eq!(listed.len(), 50, "{claims}");
        assert_eq!(claims["organizations_truncated"], json!(true));
        // Oldest membership first.
        assert_eq!(claims["organizations"][0]["id"], json!(first.unwrap()));
        assert!(
            listed
                .iter()
                .all(|(_, role, permissions)| role == "MEMBER" && permissions == &json!([]))
        );
    }
}
