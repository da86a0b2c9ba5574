//! Bring your own identity, against a real OpenID provider (the certified
//! `oidc-provider` package, tests/oidc-provider): signing in there from
//! every sign-in page, accounts from identities (made, linked, claimed,
//! unverified), the account page, and the invitee API taking the
//! provider's access tokens as a trusted issuer's.

use crate::helpers::*;
use crate::oauth_helpers::{AuthRequest, app_signs_in_with, exchange_code};
use crate::oidc_provider::{self, ENLIST_API, OTHER_API, OidcProvider};
use crate::page_helpers::{Browser, Page};
use enlist::config::{OidcProviderSettings, TrustedIssuerSettings};
use reqwest::Method;
use std::time::Duration;

/// The name the sign-in pages show for the provider (browser.rs uses it too).
pub(crate) const PROVIDER_NAME: &str = "Local IdP";

/// The settings that offer `provider` as `id` (browser.rs uses them too).
pub(crate) fn provider_settings(provider: &OidcProvider, id: &str) -> OidcProviderSettings {
    OidcProviderSettings {
        id: id.into(),
        name: PROVIDER_NAME.into(),
        issuer: provider.issuer(),
        client_id: provider.client_id().into(),
        client_secret: Some(provider.client_secret().into()),
        client_secret_file: None,
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
    }
}

/// An enlist that offers the shared provider as `local` and trusts its
/// access tokens for `urn:enlist:api`.
async fn spawn_federated() -> (TestApp, &'static OidcProvider) {
    let provider = oidc_provider::shared();
    let app = spawn_app_with(|settings| {
        settings.auth.oidc_providers = vec![provider_settings(provider, "local")];
        settings.auth.trusted_issuers = vec![TrustedIssuerSettings {
            issuer: provider.issuer(),
            audience: ENLIST_API.into(),
            jwks_uri: None,
        }];
    })
    .await;
    (app, provider)
}

/// The value of `name` in `url`'s query.
fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .1
        .into_owned()
}

fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The page's link to the provider: its target must start with
/// `/auth/oidc/{id}/` and its text name the provider.
fn provider_link(page: &Page, id: &str) -> String {
    let html = &page.text;
    let prefix = format!("href=\"/auth/oidc/{id}/");
    let at = html
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link to provider {id}: {html}"));
    let rest = &html[at + "href=\"".len()..];
    let end = rest.find('"').unwrap();
    let text_end = rest.find("</a>").unwrap();
    assert!(
        rest[..text_end].contains(&format!("Sign in with {PROVIDER_NAME}")),
        "the link names the provider: {}",
        &rest[..text_end]
    );
    unescape(&rest[..end])
}

/// Follows the page's provider link, signs `login` in at the provider, and
/// answers enlist's answer to the provider's redirect back.
pub(crate) async fn through_provider(
    app: &TestApp,
    provider: &OidcProvider,
    browser: &Browser,
    page: &Page,
    login: &str,
) -> Page {
    let start = browser.get(&provider_link(page, "local")).await;
    assert_eq!(start.status, 303, "{}", start.text);
    let authorization = start.location().unwrap().to_owned();
    assert!(
        authorization.starts_with(&provider.authorization_endpoint()),
        "to the provider's authorization endpoint: {authorization}"
    );
    assert_eq!(start.header("referrer-policy"), Some("no-referrer"));
    let back = provider
        .sign_in(&browser.client, &authorization, login)
        .await;
    let path = back
        .strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("back to enlist: {back}"));
    assert!(path.starts_with("/auth/oidc/local/callback?"), "{path}");
    browser.get(path).await
}

fn account_row(app: &TestApp, email: &str) -> (i64, bool, bool) {
    let id = app.query_i64(&format!("SELECT id FROM users WHERE email = '{email}'"));
    let verified = app.query_i64(&format!(
        "SELECT email_verified_at IS NOT NULL FROM users WHERE id = {id}"
    )) == 1;
    let password = app.query_i64(&format!(
        "SELECT password_hash IS NOT NULL FROM users WHERE id = {id}"
    )) == 1;
    (id, verified, password)
}

/// A browser signed in on the account page with a password.
async fn signed_in_with_password(app: &TestApp, email: &str, password: &str) -> Browser {
    let browser = Browser::new(app);
    let csrf = browser.get("/account").await.csrf_token();
    browser
        .post_form(
            "/account",
            &[
                ("csrf_token", &csrf),
                ("email", email),
                ("password", password),
            ],
        )
        .await
        .assert_see_other("/account");
    browser
}

/// Sets the account's password, as the operator's `set-password` would.
pub(crate) fn give_password(app: &TestApp, user_id: i64, password: &str) {
    app.db
        .write_blocking(|tx| {
            enlist::db::users::set_password_hash_of(
                tx,
                user_id,
                Some(&enlist::auth::password::hash(password).unwrap()),
                enlist::domain::Millis::now(),
            )
        })
        .unwrap();
}

fn identities_of(app: &TestApp, user_id: i64) -> Vec<String> {
    app.query_strings(&format!(
        "SELECT issuer || ' ' || subject FROM identities WHERE user_id = {user_id} \
         AND unlinked_at IS NULL ORDER BY id"
    ))
}

#[tokio::test]
async fn an_invitee_without_an_account_signs_in_at_the_provider_and_accepts() {
    let (app, provider) = spawn_federated().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app
        .invite_ok(&org.key, "alice@example.test", "MEMBER")
        .await;
    let path = app.invitation_link_path(id);
    let browser = Browser::new(&app);

    let page = browser.get(&path).await;
    page.assert_html(200);
    let back = through_provider(&app, provider, &browser, &page, "alice").await;
    // Exactly where the person was going: the invitation, its secret kept
    // by the browser (not with the stored login).
    back.assert_see_other(&path);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM oidc_logins"),
        0,
        "the login is used up"
    );

    let shown = browser.get(&path).await;
    assert!(shown.has_answer_buttons(), "{}", shown.text);
    let answered = browser.respond(&path, "accept").await;
    assert!(
        answered.status == 200 || answered.status == 303,
        "{}",
        answered.text
    );
    let (user_id, verified, has_password) = account_row(&app, "alice@example.test");
    assert!(verified, "the provider vouched for the address");
    assert!(!has_password, "no password was ever set");
    assert_eq!(
        identities_of(&app, user_id),
        [format!("{} alice", provider.issuer())]
    );
    let members = app.get("/v1/organization/users", &org.key).await;
    assert!(
        members.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["email"] == "alice@example.test"),
        "{}",
        members.text
    );
}

#[tokio::test]
async fn every_sign_in_page_offers_the_provider_by_name() {
    let (app, _) = spawn_federated().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app
        .invite_ok(&org.key, "someone@example.test", "MEMBER")
        .await;
    let browser = Browser::new(&app);
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let join = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &serde_json::json!({"role": "MEMBER", "maxUses": 5, "expiresIn": "1d"}),
        )
        .await;
    assert_eq!(join.status, 200, "{}", join.text);
    let join_url = join.body["url"].as_str().unwrap();
    let join_path = join_url.strip_prefix(&app.address).unwrap_or(join_url);
    for path in [
        app.invitation_link_path(id),
        join_path.to_owned(),
        format!("/oauth/authorize?{}", request.query()),
        "/admin".to_owned(),
        "/account".to_owned(),
    ] {
        let page = browser.get(&path).await;
        page.assert_html(200);
        let link = provider_link(&page, "local");
        let back = link.split_once("return_to=").unwrap().1;
        let back = percent_encoding::percent_decode_str(back)
            .decode_utf8()
            .unwrap();
        assert_eq!(back, path, "the link comes back to the page");
    }
}

#[tokio::test]
async fn an_unvouched_email_gets_an_unverified_account_and_the_verification_mail() {
    let (app, provider) = spawn_federated().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.test", "MEMBER").await;
    let path = app.invitation_link_path(id);
    let browser = Browser::new(&app);
    let page = browser.get(&path).await;

    let back = through_provider(&app, provider, &browser, &page, "bob").await;
    back.assert_html(200);
    assert!(back.text.contains("Check your inbox"), "{}", back.text);
    let (user_id, verified, has_password) = account_row(&app, "bob@example.test");
    assert!(!verified && !has_password);
    assert_eq!(identities_of(&app, user_id).len(), 1);
    assert_eq!(
        crate::account_helpers::messages(&app, "verification", "bob@example.test"),
        1
    );
    // Not yet a member: the invitation still waits.
    assert!(!browser.get(&path).await.has_answer_buttons());

    // The provider's own token for bob: his email is not proven.
    let token = provider.access_token("bob", ENLIST_API).await;
    app.invitee_get("/invitations", &token)
        .await
        .assert_problem(403, "email_unverified");
}

#[tokio::test]
async fn an_identity_with_a_squatters_address_claims_the_account() {
    let (app, provider) = spawn_federated().await;
    let squatter = app.create_unverified_user("carol@example.test", Some("squatter password"));
    let session = app.session_for(
        squatter,
        enlist::domain::AuthMethod::EmailCode,
        Duration::from_secs(3600),
    );
    let squatter_browser = Browser::with_session(&app, &session);
    let before = squatter_browser.get("/account").await;
    assert!(
        before.text.contains("id=\"account-email\""),
        "{}",
        before.text
    );

    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    let back = through_provider(&app, provider, &browser, &page, "carol").await;
    back.assert_see_other("/account");

    let (user_id, verified, has_password) = account_row(&app, "carol@example.test");
    assert_eq!(user_id, squatter, "the same account, taken back");
    assert!(verified && !has_password, "the squatter's password is gone");
    let after = squatter_browser.get("/account").await;
    assert!(
        !after.text.contains("id=\"account-email\""),
        "the squatter's session ended: {}",
        after.text
    );
    let mine = browser.get("/account").await;
    assert!(mine.text.contains("carol@example.test"), "{}", mine.text);
}

#[tokio::test]
async fn an_apps_code_flow_completes_through_the_provider() {
    let (app, provider) = spawn_federated().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let browser = Browser::new(&app);
    let page = browser
        .get(&format!("/oauth/authorize?{}", request.query()))
        .await;
    page.assert_html(200);

    let back = through_provider(&app, provider, &browser, &page, "alice").await;
    assert_eq!(back.status, 303, "{}", back.text);
    app_signs_in_with(&app, &client, &request, back.location().unwrap()).await;
}

#[tokio::test]
async fn the_console_signs_an_admin_in_through_the_provider_and_logs_the_link() {
    let (app, provider) = spawn_federated().await;
    let org = app.create_org("Acme", "alice@example.test");
    let browser = Browser::new(&app);
    let page = browser.get("/admin").await;

    let back = through_provider(&app, provider, &browser, &page, "alice").await;
    back.assert_see_other("/admin");
    let console = browser.get("/admin").await;
    assert_eq!(console.status, 303, "one organization: straight to it");
    assert!(console.location().unwrap().contains(&org.uuid));

    let events = app
        .get(
            "/v1/organization/events?type=user.identity_linked",
            &org.key,
        )
        .await;
    assert_eq!(events.status, 200, "{}", events.text);
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.text);
    assert_eq!(items[0]["data"]["identity"]["provider"], "local");
    assert_eq!(items[0]["data"]["identity"]["subject"], "alice");
    assert_eq!(items[0]["data"]["user"]["email"], "alice@example.test");

    let members = browser
        .get(&format!("/admin/orgs/{}/members", org.uuid))
        .await;
    assert!(
        members.text.contains(&format!("{PROVIDER_NAME}: alice")),
        "the member list names the identity: {}",
        members.text
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("enlist_sign_ins_total{method=\"oidc\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_later_email_change_at_the_provider_never_moves_the_identity() {
    let (app, provider) = spawn_federated().await;
    let login = oidc_provider::unique_login("mover");
    let first = Browser::new(&app);
    let page = first.get("/account").await;
    through_provider(&app, provider, &first, &page, &login)
        .await
        .assert_see_other("/account");
    let original = format!("{login}@example.test");
    let (user_id, _, _) = account_row(&app, &original);

    provider
        .set_account(&login, "elsewhere@example.test", true, "Moved", "Away")
        .await;
    let second = Browser::new(&app);
    let page = second.get("/account").await;
    through_provider(&app, provider, &second, &page, &login)
        .await
        .assert_see_other("/account");
    let shown = second.get("/account").await;
    assert!(shown.text.contains(&original), "{}", shown.text);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email = 'elsewhere@example.test'"),
        0
    );
    assert_eq!(identities_of(&app, user_id).len(), 1);
    provider.reset_account(&login).await;
}

#[tokio::test]
async fn the_account_page_lists_identities_and_never_unlinks_the_last_way_in() {
    let (app, provider) = spawn_federated().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "carol@example.test", "MEMBER");
    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    through_provider(&app, provider, &browser, &page, "carol")
        .await
        .assert_see_other("/account");
    let shown = browser.get("/account").await;
    assert!(shown.text.contains(PROVIDER_NAME), "{}", shown.text);
    assert!(shown.text.contains("<code>carol</code>"), "{}", shown.text);
    let (user_id, _, _) = account_row(&app, "carol@example.test");
    let identity = app.query_i64(&format!(
        "SELECT id FROM identities WHERE user_id = {user_id}"
    ));
    let csrf = shown.csrf_token();
    let refused = browser
        .post_form(
            &format!("/account/identities/{identity}/unlink"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.text.contains("only way to sign in"),
        "{}",
        refused.text
    );
    assert_eq!(identities_of(&app, user_id).len(), 1, "nothing unlinked");

    // With a password, the identity may go.
    give_password(&app, user_id, "a new password here");
    let csrf = browser.get("/account").await.csrf_token();
    let unlinked = browser
        .post_form(
            &format!("/account/identities/{identity}/unlink"),
            &[("csrf_token", &csrf)],
        )
        .await;
    unlinked.assert_see_other("/account?unlinked=1");
    assert!(identities_of(&app, user_id).is_empty());
    let events = app
        .get(
            "/v1/organization/events?type=user.identity_linked,user.identity_unlinked",
            &org.key,
        )
        .await;
    let types: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["user.identity_unlinked", "user.identity_linked"],
        "newest first: {}",
        events.text
    );
    assert_eq!(events.body["items"][0]["actor"]["type"], "user");
}

#[tokio::test]
async fn the_providers_access_tokens_list_and_accept_invitations() {
    let (app, provider) = spawn_federated().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "alice@example.test", "MEMBER")
        .await;
    let token = provider.access_token("alice", ENLIST_API).await;

    let listed = app.invitee_get("/invitations", &token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(listed.text.contains(&uuid), "{}", listed.text);
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let (user_id, verified, has_password) = account_row(&app, "alice@example.test");
    assert!(verified && !has_password);
    assert_eq!(identities_of(&app, user_id).len(), 1);
    let orgs = app.bearer(Method::GET, "/organizations", &token).await;
    assert_eq!(orgs.status, 200, "{}", orgs.text);
    assert!(orgs.text.contains("Acme"), "{}", orgs.text);
}

#[tokio::test]
async fn tokens_for_another_audience_expired_or_from_elsewhere_are_refused() {
    let (app, provider) = spawn_federated().await;
    let other_audience = provider.access_token("alice", OTHER_API).await;
    app.invitee_get("/invitations", &other_audience)
        .await
        .assert_problem(401, "invalid_token");

    let stranger = oidc_provider::start();
    let unconfigured = stranger.access_token("alice", ENLIST_API).await;
    app.invitee_get("/invitations", &unconfigured)
        .await
        .assert_problem(401, "invalid_token");

    // The stranger's token, its `iss` rewritten to the trusted issuer: a
    // key not in that issuer's JWKS.
    let forged = {
        let mut parts = unconfigured.split('.');
        let (header, _, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let mut claims = oidc_provider::jwt_claims(&unconfigured);
        claims["iss"] = provider.issuer().into();
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims).unwrap());
        format!("{header}.{payload}.{signature}")
    };
    app.invitee_get("/invitations", &forged)
        .await
        .assert_problem(401, "invalid_token");

    let valid = provider.access_token("alice", ENLIST_API).await;
    assert_eq!(app.invitee_get("/invitations", &valid).await.status, 200);
    app.clock.advance(Duration::from_secs(2 * 3600));
    app.invitee_get("/invitations", &valid)
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM identities"),
        1,
        "only the valid token linked anyone"
    );
}

#[tokio::test]
async fn a_callback_with_a_wrong_missing_or_replayed_state_or_from_another_browser_is_refused() {
    let (app, provider) = spawn_federated().await;
    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    let start = browser.get(&provider_link(&page, "local")).await;
    let authorization = start.location().unwrap().to_owned();
    let back = provider
        .sign_in(&browser.client, &authorization, "alice")
        .await;
    let path = back.strip_prefix(&app.address).unwrap().to_owned();
    let code = query_param(&back, "code");

    // Another browser (no cookie from the start) cannot use it, and is
    // refused before anything is written.
    let stranger = Browser::new(&app);
    let refused = stranger.get(&path).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oidc_logins"), 1);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM users"), 0);
    // The browser that began it finishes it, once.
    browser.get(&path).await.assert_see_other("/account");
    let replay = browser.get(&path).await;
    assert_eq!(replay.status, 400, "{}", replay.text);
    for bad in [
        format!("/auth/oidc/local/callback?code={code}"),
        format!("/auth/oidc/local/callback?code={code}&state=forged"),
        "/auth/oidc/local/callback".to_owned(),
    ] {
        let answer = browser.get(&bad).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert!(answer.text.contains("Start again"), "{}", answer.text);
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM users"), 1);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM identities"), 1);
}

#[tokio::test]
async fn a_code_used_twice_is_refused_by_the_provider_and_links_nothing_more() {
    let (app, provider) = spawn_federated().await;
    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    // A sign-in finished, then a second one begun: its state with the
    // first's code.
    let first = browser.get(&provider_link(&page, "local")).await;
    let back = provider
        .sign_in(&browser.client, first.location().unwrap(), "alice")
        .await;
    let code = query_param(&back, "code");
    browser
        .get(back.strip_prefix(&app.address).unwrap())
        .await
        .assert_see_other("/account");
    let second = browser.get(&provider_link(&page, "local")).await;
    let second_state = query_param(second.location().unwrap(), "state");
    let reused = browser
        .get(&format!(
            "/auth/oidc/local/callback?code={code}&state={second_state}"
        ))
        .await;
    assert_eq!(reused.status, 401, "{}", reused.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM identities"), 1);
}

#[tokio::test]
async fn a_second_sign_in_begun_in_the_same_browser_ends_the_first() {
    let (app, provider) = spawn_federated().await;
    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    let first = browser.get(&provider_link(&page, "local")).await;
    let second = browser.get(&provider_link(&page, "local")).await;
    assert_ne!(
        first.set_cookie("enlist_oidc"),
        second.set_cookie("enlist_oidc"),
        "a new value at every start"
    );
    let back = provider
        .sign_in(&browser.client, first.location().unwrap(), "alice")
        .await;
    let answer = browser.get(back.strip_prefix(&app.address).unwrap()).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM identities"), 0);
}

#[tokio::test]
async fn a_provider_error_returns_to_the_page_with_a_sentence() {
    let (app, _) = spawn_federated().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app
        .invite_ok(&org.key, "alice@example.test", "MEMBER")
        .await;
    let path = app.invitation_link_path(id);
    let browser = Browser::new(&app);
    let page = browser.get(&path).await;
    let start = browser.get(&provider_link(&page, "local")).await;
    let state = query_param(start.location().unwrap(), "state");
    let declined = browser
        .get(&format!(
            "/auth/oidc/local/callback?error=access_denied&state={state}"
        ))
        .await;
    assert_eq!(declined.status, 303, "{}", declined.text);
    let location = declined.location().unwrap().to_owned();
    assert!(location.starts_with(&path), "{location}");
    let shown = browser.get(&location).await;
    shown.assert_html(200);
    assert!(
        shown.text.contains("did not complete"),
        "the page says why: {}",
        shown.text
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM identities"), 0);
}

#[tokio::test]
async fn a_provider_that_does_not_answer_shows_a_page_not_a_500() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = spawn_app_with(|settings| {
        settings.auth.oidc_providers = vec![OidcProviderSettings {
            issuer: dead.clone(),
            ..provider_settings(oidc_provider::shared(), "local")
        }];
    })
    .await;
    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    let start = browser.get(&provider_link(&page, "local")).await;
    assert_eq!(start.status, 502, "{}", start.text);
    assert!(start.text.contains("not answering"), "{}", start.text);
    assert!(start.text.contains(PROVIDER_NAME), "{}", start.text);
}

#[tokio::test]
async fn a_start_link_to_another_site_or_an_unknown_provider_is_refused() {
    let (app, _) = spawn_federated().await;
    let browser = Browser::new(&app);
    for (path, status) in [
        (
            "/auth/oidc/local/start?return_to=https%3A%2F%2Fevil.test%2F",
            400,
        ),
        ("/auth/oidc/local/start?return_to=%2F%2Fevil.test%2F", 400),
        ("/auth/oidc/local/start", 400),
        ("/auth/oidc/nope/start?return_to=%2Faccount", 404),
    ] {
        let answer = browser.get(path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oidc_logins"), 0);
}

#[tokio::test]
async fn an_account_without_a_password_sets_one_by_reset_and_signs_in_with_it() {
    let (app, provider) = spawn_federated().await;
    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    through_provider(&app, provider, &browser, &page, "alice")
        .await
        .assert_see_other("/account");
    let shown = browser.get("/account").await;
    assert!(shown.text.contains("have no password"), "{}", shown.text);

    let stranger = Browser::new(&app);
    let csrf = stranger.get("/reset").await.csrf_token();
    let asked = stranger
        .post_form(
            "/reset",
            &[("csrf_token", &csrf), ("email", "alice@example.test")],
        )
        .await;
    asked.assert_html(200);
    let link = crate::account_helpers::latest_link(&app, "password_reset", "alice@example.test");
    let chosen = stranger
        .follow_link(&link, Some("a password of her own"))
        .await;
    assert!(
        chosen.status == 200 || chosen.status == 303,
        "{}",
        chosen.text
    );
    let (_, _, has_password) = account_row(&app, "alice@example.test");
    assert!(has_password);

    let signed_in =
        signed_in_with_password(&app, "alice@example.test", "a password of her own").await;
    let mine = signed_in.get("/account").await;
    assert!(mine.text.contains("You have a password"), "{}", mine.text);
    assert!(mine.text.contains("<code>alice</code>"), "{}", mine.text);
}

#[tokio::test]
async fn a_claim_ends_the_squatters_refresh_tokens() {
    let (app, provider) = spawn_federated().await;
    let squatter = app.create_unverified_user("carol@example.test", Some("squatter password"));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let code = crate::oauth_helpers::issue_code_directly(&app, &request, squatter);
    let tokens = exchange_code(&app, &client, &request, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();

    let browser = Browser::new(&app);
    let page = browser.get("/account").await;
    through_provider(&app, provider, &browser, &page, "carol")
        .await
        .assert_see_other("/account");

    let refreshed = app
        .token_request(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client.client_id),
            ],
            None,
        )
        .await;
    crate::oauth_helpers::assert_oauth_error(&refreshed, 400, "invalid_grant");
}

#[tokio::test]
async fn a_provider_that_vouches_later_proves_the_address_at_the_next_sign_in() {
    let (app, provider) = spawn_federated().await;
    let login = oidc_provider::unique_login("later");
    let email = format!("{login}@example.test");
    provider
        .set_account(&login, &email, false, "Lena", "Later")
        .await;
    let first = Browser::new(&app);
    let page = first.get("/account").await;
    let back = through_provider(&app, provider, &first, &page, &login).await;
    assert!(back.text.contains("Check your inbox"), "{}", back.text);
    let (user_id, verified, _) = account_row(&app, &email);
    assert!(!verified);

    provider
        .set_account(&login, &email, true, "Lena", "Later")
        .await;
    let second = Browser::new(&app);
    let page = second.get("/account").await;
    through_provider(&app, provider, &second, &page, &login)
        .await
        .assert_see_other("/account");
    let (again, verified, _) = account_row(&app, &email);
    assert_eq!(again, user_id);
    assert!(verified, "the provider vouches now");
    provider.reset_account(&login).await;
}

#[tokio::test]
async fn starting_sign_ins_is_limited_per_address() {
    let (app, _) = spawn_federated().await;
    let browser = Browser::new(&app);
    let start = "/auth/oidc/local/start?return_to=%2Faccount";
    for _ in 0..30 {
        assert_eq!(browser.get(start).await.status, 303);
    }
    let refused = browser.get(start).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oidc_logins"), 30);
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(browser.get(start).await.status, 303);
}

#[tokio::test]
async fn an_invitation_secret_is_never_stored_with_a_login() {
    let (app, _) = spawn_federated().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app
        .invite_ok(&org.key, "alice@example.test", "MEMBER")
        .await;
    let path = app.invitation_link_path(id);
    let browser = Browser::new(&app);
    let page = browser.get(&path).await;
    let start = browser.get(&provider_link(&page, "local")).await;
    assert_eq!(start.status, 303, "{}", start.text);
    let stored = app.query_strings("SELECT return_to FROM oidc_logins");
    assert_eq!(stored, [path.split('?').next().unwrap().to_owned()]);
    let token = path.split_once("token=").unwrap().1;
    assert!(!stored[0].contains(token));
}

/// Signs `login` in at the provider from a fresh browser's account page.
async fn provider_sign_in(app: &TestApp, provider: &OidcProvider, login: &str) -> (Browser, Page) {
    let browser = Browser::new(app);
    let page = browser.get("/account").await;
    let back = through_provider(app, provider, &browser, &page, login).await;
    (browser, back)
}

#[tokio::test]
async fn an_identity_linked_to_an_unproven_account_goes_when_the_inbox_owner_claims_it() {
    let (app, provider) = spawn_federated().await;
    // The attacker's provider does not vouch for the address they typed there.
    let attacker = oidc_provider::unique_login("attacker");
    provider
        .set_account(&attacker, "victim@example.test", false, "Eve", "Attacker")
        .await;
    let (_, first) = provider_sign_in(&app, provider, &attacker).await;
    assert!(first.text.contains("Check your inbox"), "{}", first.text);
    let (user_id, verified, _) = account_row(&app, "victim@example.test");
    assert!(!verified);
    assert_eq!(identities_of(&app, user_id).len(), 1);

    // The inbox's owner follows the verification link in their own browser
    // and chooses a password: the account is theirs now.
    let link = crate::account_helpers::latest_link(&app, "verification", "victim@example.test");
    let owner = Browser::new(&app);
    let chosen = owner.follow_link(&link, Some("the owner's password")).await;
    assert!(
        chosen.status == 200 || chosen.status == 303,
        "{}",
        chosen.text
    );
    let (_, verified, _) = account_row(&app, "victim@example.test");
    assert!(verified);
    assert!(
        identities_of(&app, user_id).is_empty(),
        "the earlier holder's identity went with the claim"
    );

    // The attacker's identity no longer signs in to it.
    let (attacker_browser, again) = provider_sign_in(&app, provider, &attacker).await;
    assert_eq!(again.status, 409, "{}", again.text);
    let mine = attacker_browser.get("/account").await;
    assert!(
        !mine.text.contains("id=\"account-email\""),
        "not signed in: {}",
        mine.text
    );
    assert!(identities_of(&app, user_id).is_empty());
    provider.reset_account(&attacker).await;
}

#[tokio::test]
async fn an_unlinked_identity_signs_in_again_only_once_its_holder_connects_it() {
    let (app, provider) = spawn_federated().await;
    let (browser, back) = provider_sign_in(&app, provider, "alice").await;
    back.assert_see_other("/account");
    let (user_id, _, _) = account_row(&app, "alice@example.test");
    give_password(&app, user_id, "alice's own password");
    let identity = app.query_i64(&format!(
        "SELECT id FROM identities WHERE user_id = {user_id}"
    ));
    let csrf = browser.get("/account").await.csrf_token();
    browser
        .post_form(
            &format!("/account/identities/{identity}/unlink"),
            &[("csrf_token", &csrf)],
        )
        .await
        .assert_see_other("/account?unlinked=1");

    // By its email alone it does not link itself again, nor do its tokens work.
    let (_, refused) = provider_sign_in(&app, provider, "alice").await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.text.contains("unlinked"), "{}", refused.text);
    let token = provider.access_token("alice", ENLIST_API).await;
    app.invitee_get("/invitations", &token)
        .await
        .assert_problem(409, "identity_unlinked");
    assert!(identities_of(&app, user_id).is_empty());

    // Signed in with her password, she connects it from her account page.
    let holder = signed_in_with_password(&app, "alice@example.test", "alice's own password").await;
    let shown = holder.get("/account").await;
    let csp = shown.header("content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {}", provider.issuer())),
        "the connect form's redirect to the provider is allowed: {csp}"
    );
    let csrf = shown.csrf_token();
    let connect = holder
        .post_form("/account/connect/local", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(connect.status, 303, "{}", connect.text);
    let back = provider
        .sign_in(&holder.client, connect.location().unwrap(), "alice")
        .await;
    holder
        .get(back.strip_prefix(&app.address).unwrap())
        .await
        .assert_see_other("/account?connected=1");
    assert_eq!(identities_of(&app, user_id).len(), 1);
    assert_eq!(app.invitee_get("/invitations", &token).await.status, 200);
    let (_, again) = provider_sign_in(&app, provider, "alice").await;
    again.assert_see_other("/account");
}

#[tokio::test]
async fn connecting_needs_the_form_and_the_same_signed_in_account() {
    let (app, _) = spawn_federated().await;
    let holder = Browser::new(&app);
    // No session: nothing to connect to.
    let csrf = holder.get("/account").await.csrf_token();
    let refused = holder
        .post_form("/account/connect/local", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    // No CSRF token: refused before anything happens.
    let forged = holder.post_form("/account/connect/local", &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM oidc_logins"), 0);
}
