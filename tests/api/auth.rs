//! Who may call the admin API: the 401/403 matrix over every endpoint.

use crate::helpers::*;
use enlist::api::openapi::ADMIN_OPERATIONS;
use enlist::domain::{Millis, Scope};
use reqwest::Method;
use serde_json::{Value, json};

/// One admin endpoint: how to call it successfully and the scope it needs.
struct Endpoint {
    method: Method,
    path: String,
    body: Option<Value>,
    scope: Scope,
}

/// Every admin endpoint (the operations of [`ADMIN_OPERATIONS`], the table
/// the OpenAPI test holds the document to), with ids that exist in `org`
/// and a body, so a good key succeeds.
async fn endpoints(app: &TestApp, org: &TestOrg) -> Vec<Endpoint> {
    let invitation = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let resent = app.invite_ok(&org.key, "fay@example.com", "MEMBER").await;
    let member = app.add_member(org.id, "carol@acme.test", "MEMBER");
    let promoted = app.add_member(org.id, "dave@acme.test", "MEMBER");
    let link = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({ "maxUses": 3, "expiresIn": "1d" }),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    let link = link.body["id"].as_i64().unwrap();
    let hook = |enabled: bool| {
        let body = json!({ "url": "https://93.184.216.34/in", "events": ["member.removed"], "enabled": enabled });
        async move {
            let created = app.post("/v1/organization/webhooks", &org.key, &body).await;
            assert_eq!(created.status, 200, "{}", created.text);
            created.body["id"].as_i64().unwrap()
        }
    };
    let (hook, doomed) = (hook(true).await, hook(false).await);
    for key in ["kept", "doomed"] {
        let role = json!({ "key": key, "name": key, "permissions": ["docs:read"] });
        let created = app.post("/v1/organization/roles", &org.key, &role).await;
        assert_eq!(created.status, 200, "{}", created.text);
    }
    let team = |name: &'static str| async move {
        let created = app
            .post("/v1/organization/teams", &org.key, &json!({ "name": name }))
            .await;
        assert_eq!(created.status, 200, "{}", created.text);
        created.body["id"].as_i64().unwrap()
    };
    let (team, doomed_team) = (team("Kept").await, team("Doomed").await);
    let in_team = app.add_member(org.id, "gil@acme.test", "MEMBER");
    let joiner = app.add_member(org.id, "hal@acme.test", "MEMBER");
    let joined = app
        .request(
            Method::PUT,
            &format!("/v1/organization/teams/{team}/members/{in_team}"),
            Some(&org.key),
            None,
        )
        .await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    let domain = |name: &'static str| async move {
        let body = json!({ "domain": name, "mode": "suggest" });
        let created = app.post("/v1/organization/domains", &org.key, &body).await;
        assert_eq!(created.status, 200, "{}", created.text);
        created.body["id"].as_i64().unwrap()
    };
    let (domain, doomed_domain) = (domain("kept.test").await, domain("doomed.test").await);
    // Verified already, so verifying it answers without a DNS lookup.
    app.execute_sql(&format!(
        "UPDATE org_domains SET verified_at = 1, checked_at = 1 WHERE id = {domain}"
    ));
    let mut endpoints: Vec<Endpoint> = ADMIN_OPERATIONS
        .iter()
        .map(|op| {
            let (id, body) = match op.id {
                "listEvents" | "listWebhooks" | "listJoinLinks" | "getOrganization"
                | "listInvitations" | "listUsers" | "exportOrganization" => (None, None),
                "updateOrganization" => (None, Some(json!({ "metadata": { "tier": "gold" } }))),
                "deleteOrganization" => (None, Some(json!({ "confirm": "Acme" }))),
                "createWebhook" => (
                    None,
                    Some(json!({ "url": "https://93.184.216.34/new", "enabled": false })),
                ),
                "getWebhook" | "rotateWebhookSecret" | "testWebhook" | "listWebhookDeliveries" => {
                    (Some(hook.to_string()), None)
                }
                "updateWebhook" => (Some(hook.to_string()), Some(json!({ "description": "changed" }))),
                "deleteWebhook" => (Some(doomed.to_string()), None),
                "bulkInvite" => (
                    None,
                    Some(
                        json!({ "items": [{ "inviteeEmail": "erin@example.com", "role": "MEMBER" }] }),
                    ),
                ),
                "createJoinLink" => (None, Some(json!({ "maxUses": 1, "expiresIn": 3600 }))),
                "revokeJoinLink" => (Some(link.to_string()), None),
                "getAdminInvitation" | "revokeInvitation" => (Some(invitation.to_string()), None),
                "resendInvitation" => (Some(resent.to_string()), None),
                "updateUser" => (Some(promoted.to_string()), Some(json!({ "role": "ADMIN" }))),
                "inviteUser" => (
                    None,
                    Some(json!({ "inviteeEmail": "dan@example.com", "role": "MEMBER" })),
                ),
                "removeUser" => (Some(member.to_string()), None),
                "listRoles" => (None, None),
                "createRole" => (
                    None,
                    Some(json!({ "key": "made", "name": "Made", "permissions": [] })),
                ),
                "getRole" => (Some("kept".to_owned()), None),
                "updateRole" => (Some("kept".to_owned()), Some(json!({ "name": "Kept" }))),
                "deleteRole" => (Some("doomed".to_owned()), None),
                "checkPermissions" => (
                    None,
                    Some(json!({ "userId": org.admin_id, "permissions": ["docs:read"] })),
                ),
                "listTeams" => (None, None),
                "createTeam" => (None, Some(json!({ "name": "Made" }))),
                "getTeam" | "listTeamMembers" => (Some(team.to_string()), None),
                "updateTeam" => (Some(team.to_string()), Some(json!({ "description": "changed" }))),
                "deleteTeam" => (Some(doomed_team.to_string()), None),
                "addTeamMember" => (Some(team.to_string()), None),
                "removeTeamMember" => (Some(team.to_string()), None),
                "listDomains" => (None, None),
                "createDomain" => (None, Some(json!({ "domain": "made.test", "mode": "suggest" }))),
                "getDomain" | "verifyDomain" => (Some(domain.to_string()), None),
                "deleteDomain" => (Some(doomed_domain.to_string()), None),
                other => panic!("{other} is in ADMIN_OPERATIONS but the matrix has no call for it"),
            };
            let path = match id {
                Some(id) => op
                    .path
                    .replace("{id}", &id)
                    .replace("{key}", &id)
                    .replace(
                        "{userId}",
                        &if op.id == "addTeamMember" { joiner } else { in_team }.to_string(),
                    ),
                None => op.path.to_owned(),
            };
            assert!(!path.contains('{'), "{}: {path} needs an id", op.id);
            Endpoint {
                method: Method::from_bytes(op.method.as_bytes()).unwrap(),
                path,
                body,
                scope: op.scope,
            }
        })
        .collect();
    // Deleting the organization ends every other call: it goes last.
    endpoints.sort_by_key(|e| e.method == Method::DELETE && e.path == "/v1/organization");
    endpoints
}

fn assert_unauthorized(reply: &Reply, code: &str, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.text);
    reply.assert_problem(401, code);
    assert_eq!(reply.body["title"], "Unauthorized", "{what}");
    let challenge = reply
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate header"));
    assert!(challenge.contains("X-API-Key"), "{what}: {challenge}");
}

/// The database state the matrix must leave untouched.
fn snapshot(app: &TestApp) -> Vec<String> {
    app.query_strings(
        "SELECT 'inv ' || id || ' ' || status || ' ' || updated_at FROM invitations
         UNION ALL SELECT 'org ' || id || ' ' || name || ' ' || updated_at FROM organizations
         UNION ALL SELECT 'mem ' || org_id || ' ' || user_id || ' ' || role FROM memberships
         UNION ALL SELECT 'link ' || id || ' ' || COALESCE(CAST(revoked_at AS TEXT), '-') FROM join_links
         UNION ALL SELECT 'hook ' || id || ' ' || updated_at || ' ' || secret FROM webhook_endpoints
         UNION ALL SELECT 'event ' || id || ' ' || type FROM events WHERE type NOT LIKE 'api_key.%'
         UNION ALL SELECT 'team ' || id || ' ' || name || ' ' || updated_at FROM teams
         UNION ALL SELECT 'in team ' || team_id || ' ' || user_id FROM team_members
         UNION ALL SELECT 'domain ' || id || ' ' || domain || ' ' || COALESCE(CAST(verified_at AS TEXT), '-') FROM org_domains
         ORDER BY 1",
    )
}

#[tokio::test]
async fn every_endpoint_answers_401_without_a_key() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let endpoints = endpoints(&app, &org).await;
    let before = snapshot(&app);

    for endpoint in &endpoints {
        let what = format!("{} {}", endpoint.method, endpoint.path);
        let reply = app
            .request(
                endpoint.method.clone(),
                &endpoint.path,
                None,
                endpoint.body.as_ref(),
            )
            .await;

        assert_unauthorized(&reply, "missing_api_key", &what);
        assert!(
            reply.body["detail"].as_str().unwrap().contains("X-API-Key"),
            "{what}: {}",
            reply.text
        );
    }
    assert_eq!(snapshot(&app), before);
}

#[tokio::test]
async fn every_endpoint_answers_401_for_keys_that_do_not_authenticate() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let endpoints = endpoints(&app, &org).await;
    let revoked = app.api_key(org.id, org.admin_id, &Scope::ALL);
    let key_id = app.query_i64("SELECT MAX(id) FROM api_keys");
    app.db
        .write_blocking(|tx| {
            enlist::services::api_keys::revoke(
                tx,
                &enlist::domain::event::Origin::cli(),
                key_id,
                Millis::now(),
            )
        })
        .unwrap();
    // The right public id with another secret.
    let (public_part, secret) = org.key.rsplit_once('_').unwrap();
    let wrong_secret = format!("{public_part}_{}", secret.chars().rev().collect::<String>());
    assert_ne!(wrong_secret, org.key);
    let before = snapshot(&app);

    for (label, key) in [
        ("empty", ""),
        ("garbage", "not-a-key"),
        ("bearer-looking", "Bearer abc"),
        ("well-formed but unknown", WELL_FORMED_UNKNOWN_KEY),
        ("wrong secret", wrong_secret.as_str()),
        ("truncated", &org.key[..org.key.len() - 1]),
        ("revoked", revoked.as_str()),
    ] {
        for endpoint in &endpoints {
            let what = format!("{label} key, {} {}", endpoint.method, endpoint.path);
            let reply = app
                .request(
                    endpoint.method.clone(),
                    &endpoint.path,
                    Some(key),
                    endpoint.body.as_ref(),
                )
                .await;

            assert_unauthorized(&reply, "invalid_api_key", &what);
            assert_eq!(reply.body["detail"], "the API key is not valid", "{what}");
        }
    }
    assert_eq!(snapshot(&app), before);
}

#[tokio::test]
async fn every_endpoint_answers_403_naming_the_one_scope_the_key_lacks() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let endpoints = endpoints(&app, &org).await;
    let before = snapshot(&app);

    for endpoint in &endpoints {
        let what = format!("{} {}", endpoint.method, endpoint.path);
        let others: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| *s != endpoint.scope)
            .collect();
        let key = app.api_key(org.id, org.admin_id, &others);

        let reply = app
            .request(
                endpoint.method.clone(),
                &endpoint.path,
                Some(&key),
                endpoint.body.as_ref(),
            )
            .await;

        reply.assert_problem(403, "missing_scope");
        assert_eq!(reply.body["title"], "Forbidden", "{what}");
        assert_eq!(
            reply.body["detail"],
            format!("this API key lacks the `{}` scope", endpoint.scope),
            "{what}"
        );
        assert!(reply.header("www-authenticate").is_none(), "{what}");
    }
    assert_eq!(snapshot(&app), before, "a refused call changes nothing");
}

#[tokio::test]
async fn every_endpoint_succeeds_with_exactly_its_own_scope() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let endpoints = endpoints(&app, &org).await;

    for endpoint in &endpoints {
        let what = format!("{} {}", endpoint.method, endpoint.path);
        let key = app.api_key(org.id, org.admin_id, &[endpoint.scope]);

        let reply = app
            .request(
                endpoint.method.clone(),
                &endpoint.path,
                Some(&key),
                endpoint.body.as_ref(),
            )
            .await;

        assert!(
            reply.status.is_success(),
            "{what}: {} {}",
            reply.status,
            reply.text
        );
    }
}

#[tokio::test]
async fn a_revoked_key_stops_at_once_while_other_keys_keep_working() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let second = app.api_key(org.id, org.admin_id, &Scope::ALL);
    assert_eq!(app.get("/v1/organization", &second).await.status, 200);
    let key_id = app.query_i64("SELECT MAX(id) FROM api_keys");

    let revoked = app
        .db
        .write_blocking(|tx| {
            enlist::services::api_keys::revoke(
                tx,
                &enlist::domain::event::Origin::cli(),
                key_id,
                Millis::now(),
            )
        })
        .unwrap();

    assert!(revoked.revoked_at.is_some());
    app.get("/v1/organization", &second)
        .await
        .assert_problem(401, "invalid_api_key");
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);
}

#[tokio::test]
async fn a_key_stops_working_when_its_owner_is_no_longer_an_admin() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &Scope::ALL);
    assert_eq!(app.get("/v1/organization", &carols_key).await.status, 200);

    app.execute_sql(&format!(
        "UPDATE memberships SET role = 'MEMBER' WHERE user_id = {carol}"
    ));

    app.get("/v1/organization", &carols_key)
        .await
        .assert_problem(401, "invalid_api_key");
}

#[tokio::test]
async fn the_key_is_read_from_x_api_key_only() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let bearer = app
        .send_raw(
            Method::GET,
            "/v1/organization",
            &[("Authorization", &format!("Bearer {}", org.key))],
            "",
        )
        .await;
    let query = app
        .request(
            Method::GET,
            &format!("/v1/organization?X-API-Key={}", org.key),
            None,
            None,
        )
        .await;
    let lowercase_header = app
        .send_raw(
            Method::GET,
            "/v1/organization",
            &[("x-api-key", &org.key)],
            "",
        )
        .await;

    assert_unauthorized(&bearer, "missing_api_key", "Authorization header");
    assert_unauthorized(&query, "missing_api_key", "query parameter");
    assert_eq!(
        lowercase_header.status, 200,
        "header names are case-insensitive"
    );
}

#[tokio::test]
async fn a_key_that_is_not_visible_ascii_is_invalid_not_a_server_error() {
    let app = spawn_app().await;
    let _org = app.create_org("Acme", "ada@acme.test");
    let header = reqwest::header::HeaderValue::from_bytes(b"enl_\xff\xfe").unwrap();
    let response = app
        .client
        .get(format!("{}/v1/organization", app.address))
        .header("X-API-Key", header)
        .send()
        .await
        .unwrap();

    let reply = reply(response).await;

    assert_unauthorized(&reply, "invalid_api_key", "non-ASCII key");
}

#[tokio::test]
async fn authentication_comes_before_body_and_parameter_validation() {
    let app = spawn_app().await;
    let _org = app.create_org("Acme", "ada@acme.test");

    for key in [None, Some("not-a-key")] {
        let code = if key.is_some() {
            "invalid_api_key"
        } else {
            "missing_api_key"
        };
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(key) = key {
            headers.push(("X-API-Key", key));
        }
        let malformed = app
            .send_raw(
                Method::POST,
                "/v1/organization/invitations",
                &headers,
                "{not json",
            )
            .await;
        let wrong_type = app
            .send_raw(
                Method::POST,
                "/v1/organization/invitations",
                &[
                    ("Content-Type", "text/plain"),
                    ("X-API-Key", key.unwrap_or("")),
                ],
                "hello",
            )
            .await;
        let bad_email = app
            .request(
                Method::POST,
                "/v1/organization/invitations",
                key,
                Some(&json!({ "inviteeEmail": "nope", "role": "KING" })),
            )
            .await;
        let bad_query = app
            .request(
                Method::GET,
                "/v1/organization/invitations?limit=0&status=NOPE",
                key,
                None,
            )
            .await;
        let bad_revoke_id = app
            .request(
                Method::POST,
                "/v1/organization/invitations/abc/revoke",
                key,
                None,
            )
            .await;
        let bad_user_id = app
            .request(Method::DELETE, "/v1/organization/users/-1", key, None)
            .await;

        assert_unauthorized(&malformed, code, "malformed JSON");
        // An empty X-API-Key header is a present but invalid key.
        assert_unauthorized(&wrong_type, "invalid_api_key", "wrong content type");
        assert_unauthorized(&bad_email, code, "invalid body");
        assert_unauthorized(&bad_query, code, "invalid query");
        assert_unauthorized(&bad_revoke_id, code, "invalid invitation id");
        assert_unauthorized(&bad_user_id, code, "invalid user id");
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn a_key_without_the_scope_hears_403_before_anything_about_its_input() {
    let app = spawn_app_with(|s| s.server.json_body_limit = enlist::config::HumanSize(64)).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let read_only = app.api_key(org.id, org.admin_id, &[Scope::OrganizationRead]);
    let big = format!(r#"{{"inviteeEmail": "{}@example.com"}}"#, "x".repeat(100));

    for (method, path, content_type, body, scope) in [
        (
            Method::POST,
            "/v1/organization/invitations",
            "application/json",
            "{bad",
            "invitations:write",
        ),
        (
            Method::POST,
            "/v1/organization/invitations",
            "text/plain",
            "hello",
            "invitations:write",
        ),
        (
            Method::POST,
            "/v1/organization/invitations",
            "application/json",
            big.as_str(),
            "invitations:write",
        ),
        (
            Method::POST,
            "/v1/organization/invitations",
            "application/json",
            r#"{"role": 1}"#,
            "invitations:write",
        ),
        (
            Method::GET,
            "/v1/organization/invitations?limit=1&limit=2",
            "application/json",
            "",
            "invitations:read",
        ),
        (
            Method::GET,
            "/v1/organization/invitations?limit=0&status=NOPE",
            "application/json",
            "",
            "invitations:read",
        ),
        (
            Method::GET,
            "/v1/organization/users?offset=1&offset=2",
            "application/json",
            "",
            "users:read",
        ),
        (
            Method::POST,
            "/v1/organization/invitations/abc/revoke",
            "application/json",
            "",
            "invitations:write",
        ),
        (
            Method::DELETE,
            "/v1/organization/users/0",
            "application/json",
            "",
            "users:write",
        ),
    ] {
        let what = format!("{method} {path} {content_type} {body:.20}");
        let reply = app
            .send_raw(
                method,
                path,
                &[("X-API-Key", &read_only), ("Content-Type", content_type)],
                body.to_owned(),
            )
            .await;

        assert_eq!(reply.status, 403, "{what}: {}", reply.text);
        reply.assert_problem(403, "missing_scope");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(scope),
            "{what}: {}",
            reply.text
        );
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn a_key_with_the_scope_still_hears_about_malformed_input() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let duplicate = app
        .get("/v1/organization/invitations?limit=1&limit=2", &org.key)
        .await;
    let users_duplicate = app
        .get("/v1/organization/users?offset=1&offset=2", &org.key)
        .await;

    duplicate.assert_problem(400, "validation_failed");
    assert_eq!(duplicate.body["field"], "query");
    users_duplicate.assert_problem(400, "validation_failed");
    assert_eq!(users_duplicate.body["field"], "query");
}
