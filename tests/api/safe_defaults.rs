//! Safe defaults: the API reference page sends the security headers every
//! page sends, JSON answers carry `nosniff`, and names with control
//! characters are refused.

use crate::helpers::*;
use crate::page_helpers::*;
use reqwest::Method;

#[tokio::test]
async fn the_swagger_ui_gets_the_pages_security_headers_and_no_remote_sources() {
    let app = spawn_app().await;

    for path in [
        "/docs/",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_security_headers(&headers);
        assert_eq!(headers.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        let csp = headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(!csp.contains("http") && !csp.contains('*'), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
    }
    // The page loads only its own scripts, none inline.
    let html = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("<script src=\"./swagger-initializer.js\""),
        "{html}"
    );
}

#[tokio::test]
async fn signing_up_with_a_control_character_in_a_name_is_refused_on_the_form() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let path = format!("/invite/{}", app.invitation_uuid(id));
    let browser = Browser::new(&app);
    let csrf = browser.get(&path).await.csrf_token();

    let refused = browser
        .post_form(
            &path,
            &[
                ("csrf_token", &csrf),
                ("intent", "signup"),
                ("email", "bob@example.com"),
                ("first_name", "Bob\r\nBcc: everyone@example.com"),
                ("last_name", "Builder"),
                ("password", "correct horse battery"),
            ],
        )
        .await;

    refused.assert_html(400);
    assert!(
        refused.text.contains("First name must not"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("control characters"),
        "{}",
        refused.text
    );
    assert!(refused.has_sign_in_forms());
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email = 'bob@example.com'"),
        0
    );
}

/// Every JSON answer, successes, problems, 404s and OAuth errors alike,
/// tells browsers not to sniff it into HTML or script.
#[tokio::test]
async fn every_json_answer_carries_nosniff() {
    let app = spawn_app_with(|s| s.server.json_body_limit = enlist::config::HumanSize(64)).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let json = [("Content-Type", "application/json")];
    let replies = [
        app.get("/v1/organization", &org.key).await,
        app.request(Method::GET, "/v1/organization", None, None)
            .await,
        app.get("/v1/organization/nothing-here", &org.key).await,
        app.request(Method::GET, "/no-such-thing", None, None).await,
        app.request(Method::DELETE, "/healthz", None, None).await,
        app.request(Method::GET, "/healthz", None, None).await,
        app.send_raw(
            Method::POST,
            "/v1/organization/invitations",
            &[("X-API-Key", &org.key), json[0]],
            "{not json",
        )
        .await,
        app.send_raw(
            Method::POST,
            "/v1/organization/invitations",
            &[("X-API-Key", &org.key), ("Content-Type", "text/plain")],
            "{}",
        )
        .await,
        app.send_raw(
            Method::POST,
            "/v1/organization/invitations",
            &[("X-API-Key", &org.key), json[0]],
            format!("{{\"pad\": \"{}\"}}", "x".repeat(100)),
        )
        .await,
        app.request(Method::GET, "/invitations", None, None).await,
        app.request(Method::GET, "/openapi.json", None, None).await,
        app.request(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await,
        app.send_raw(
            Method::POST,
            "/oauth/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "grant_type=nope",
        )
        .await,
        app.request(Method::from_bytes(b"BREW").unwrap(), "/healthz", None, None)
            .await,
    ];
    let mut statuses = Vec::new();
    for reply in &replies {
        let content_type = reply.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json")
                || content_type.starts_with("application/problem+json"),
            "{} {content_type}: {}",
            reply.status,
            reply.text
        );
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{} {content_type}: {}",
            reply.status,
            reply.text
        );
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(
        statuses,
        [
            200, 401, 404, 404, 405, 200, 400, 415, 413, 401, 200, 200, 400, 501
        ]
    );
}
