//! The shapes of error answers, routing errors and request ids.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn unknown_routes_answer_a_404_problem() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for path in [
        "/nope",
        "/v2/organization",
        "/v1/organization/nope",
        "/v1/organization/invitations/1/accept",
        "/v1/organization/join-links/1",
        "/v1/organization/users/1/roles",
    ] {
        let reply = app.get(path, &org.key).await;

        reply.assert_problem(404, "not_found");
        assert_eq!(reply.body["title"], "Not Found", "{path}");
        assert_eq!(
            reply.body["detail"],
            format!("no resource at GET {path}"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_very_long_unknown_path_is_clipped_in_the_detail() {
    let app = spawn_app().await;
    let path = format!("/{}", "a".repeat(500));

    let reply = app.request(Method::GET, &path, None, None).await;

    reply.assert_problem(404, "not_found");
    assert!(reply.text.len() < 400, "{}", reply.text);
    assert!(reply.body["detail"].as_str().unwrap().ends_with('…'));
}

#[tokio::test]
async fn wrong_methods_answer_405_with_allow() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for (method, path, allow) in [
        (Method::POST, "/v1/organization", "GET, PATCH, DELETE"),
        (Method::PUT, "/v1/organization", "GET, PATCH, DELETE"),
        (Method::POST, "/v1/organization/export", "GET"),
        (Method::PUT, "/v1/organization/invitations", "GET, POST"),
        (Method::DELETE, "/v1/organization/invitations", "GET, POST"),
        (Method::GET, "/v1/organization/invitations/1/revoke", "POST"),
        (Method::POST, "/v1/organization/users", "GET"),
        (Method::PUT, "/v1/organization/users/1", "DELETE, PATCH"),
        (Method::GET, "/v1/organization/users/1", "DELETE, PATCH"),
        (Method::DELETE, "/v1/organization/invitations/1", "GET"),
        (Method::GET, "/v1/organization/invitations/bulk", "POST"),
        (Method::DELETE, "/v1/organization/join-links", "GET, POST"),
        (Method::POST, "/healthz", "GET"),
    ] {
        let what = format!("{method} {path}");
        let reply = app
            .request(method, path, Some(&org.key), Some(&json!({})))
            .await;

        reply.assert_problem(405, "method_not_allowed");
        assert_eq!(reply.body["title"], "Method Not Allowed", "{what}");
        assert_eq!(reply.header("allow"), Some(allow), "{what}");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(allow),
            "{what}: {}",
            reply.text
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM memberships"), 1);
}

#[tokio::test]
async fn head_answers_every_get_route_with_its_headers_and_no_body_and_the_front_page_leads_on() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for (path, key) in [
        ("/", None),
        ("/healthz", None),
        ("/openapi.json", None),
        ("/v1/organization", Some(org.key.as_str())),
        ("/v1/organization", None),
        (
            "/v1/organization/invitations?limit=1",
            Some(org.key.as_str()),
        ),
    ] {
        let get = app.request(Method::GET, path, key, None).await;
        if path == "/" {
            // The front page leads to the console and the account pages.
            assert!(get.text.contains(r#"href="/admin""#), "{}", get.text);
            assert!(get.text.contains(r#"href="/account""#), "{}", get.text);
        }
        let head = app.request(Method::HEAD, path, key, None).await;
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert_eq!(head.text, "", "HEAD {path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "HEAD {path}"
        );
        assert_eq!(
            head.header("content-length"),
            Some(get.text.len().to_string().as_str()),
            "HEAD {path}"
        );
    }
}

#[tokio::test]
async fn every_error_is_a_complete_problem_document() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let accepted = app.invite_ok(&org.key, "acc@example.com", "MEMBER").await;
    app.set_stored_status(accepted, "ACCEPTED");
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;

    let cases = [
        (
            app.get("/v1/organization/invitations?limit=0", &org.key)
                .await,
            400,
            "validation_failed",
            "Bad Request",
        ),
        (
            app.request(Method::GET, "/v1/organization", None, None)
                .await,
            401,
            "missing_api_key",
            "Unauthorized",
        ),
        (
            app.get("/v1/organization", "x").await,
            401,
            "invalid_api_key",
            "Unauthorized",
        ),
        (
            app.get("/nope", &org.key).await,
            404,
            "not_found",
            "Not Found",
        ),
        (
            app.revoke(&org.key, 999).await,
            404,
            "not_found",
            "Not Found",
        ),
        (
            app.request(Method::PUT, "/v1/organization", Some(&org.key), None)
                .await,
            405,
            "method_not_allowed",
            "Method Not Allowed",
        ),
        (
            app.invite(&org.key, "bob@example.com", "MEMBER").await,
            409,
            "invitation_pending",
            "Conflict",
        ),
        (
            app.invite(&org.key, "ada@acme.test", "MEMBER").await,
            409,
            "already_member",
            "Conflict",
        ),
        (
            app.revoke(&org.key, accepted).await,
            409,
            "invitation_not_revocable",
            "Conflict",
        ),
        (
            app.remove_user(&org.key, org.admin_id).await,
            409,
            "last_admin",
            "Conflict",
        ),
    ];

    for (reply, status, code, title) in &cases {
        reply.assert_problem(*status, code);
        assert_eq!(reply.body["title"], *title, "{}", reply.text);
        let keys = keys_of(&reply.body);
        let expected: &[&str] = if *status == 400 {
            &["code", "detail", "field", "status", "title", "type"]
        } else {
            &["code", "detail", "status", "title", "type"]
        };
        assert_eq!(keys, expected, "{}", reply.text);
        assert!(!reply.body["detail"].as_str().unwrap().is_empty());
        assert!(reply.header("x-request-id").is_some(), "{}", reply.text);
    }
}

#[tokio::test]
async fn a_storage_failure_answers_500_without_revealing_the_cause() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    app.execute_sql("DROP TABLE invitation_counts");

    let reply = app.get("/v1/organization/invitations", &org.key).await;

    reply.assert_problem(500, "internal_error");
    assert_eq!(
        reply.body["detail"],
        "An unknown error occurred, trying again might help."
    );
    assert_eq!(reply.body["title"], "Internal Server Error");
    let text = reply.text.to_lowercase();
    for leak in ["sql", "invitation_counts", "table"] {
        assert!(!text.contains(leak), "{leak}: {}", reply.text);
    }
}

#[tokio::test]
async fn successful_answers_are_plain_json() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for path in [
        "/v1/organization",
        "/v1/organization/invitations",
        "/v1/organization/users",
    ] {
        let reply = app.get(path, &org.key).await;

        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_valid_request_id_is_echoed_unchanged() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let longest = "a".repeat(128);

    for id in ["abc-123_x.Y", "0", longest.as_str()] {
        for (path, key) in [
            ("/v1/organization", org.key.as_str()),
            ("/v1/organization", "bad key"),
            ("/nope", org.key.as_str()),
        ] {
            let reply = app
                .send_raw(
                    Method::GET,
                    path,
                    &[("X-Request-Id", id), ("X-API-Key", key)],
                    "",
                )
                .await;

            assert_eq!(
                reply.header("x-request-id"),
                Some(id),
                "{path} {}",
                reply.status
            );
        }
    }
}

#[tokio::test]
async fn a_missing_or_unusable_request_id_is_replaced_by_a_new_one() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let too_long = "a".repeat(129);

    let mut generated = Vec::new();
    for sent in [
        None,
        Some(""),
        Some("has space"),
        Some("semi;colon"),
        Some("a/b"),
        Some(too_long.as_str()),
    ] {
        let mut headers = vec![("X-API-Key", org.key.as_str())];
        if let Some(sent) = sent {
            headers.push(("X-Request-Id", sent));
        }
        let reply = app
            .send_raw(Method::GET, "/v1/organization", &headers, "")
            .await;

        assert_eq!(reply.status, 200, "{}", reply.text);
        let id = reply
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{sent:?}: no request id"))
            .to_owned();
        assert_ne!(Some(id.as_str()), sent);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{sent:?}: {id}");
        generated.push(id);
    }
    let unique: std::collections::HashSet<_> = generated.iter().collect();
    assert_eq!(unique.len(), generated.len(), "{generated:?}");
}

#[tokio::test]
async fn health_is_open_and_needs_no_key() {
    let app = spawn_app().await;

    let reply = app.request(Method::GET, "/healthz", None, None).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({ "status": "ok" }));
    assert!(reply.header("x-request-id").is_some());
}
