//! Hostile input, property-based (proptest): junk paths, query strings,
//! headers and bodies thrown at every endpoint. Whatever arrives, the server
//! never answers 500 or panics, every API error is RFC 9457 problem details
//! (RFC 6749 JSON at the token and revocation endpoints, an HTML page on the
//! pages), and injection strings are stored and returned verbatim, never
//! executed or rendered.

use crate::helpers;

use helpers::{Reply, TestApp, reply, spawn_app};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::json;
use std::sync::OnceLock;
use tokio::runtime::Runtime;

struct World {
    runtime: Runtime,
    app: TestApp,
    key: String,
    org_uuid: String,
    /// The admin's console session (the cookie's value).
    session: String,
}

/// One server for every generated case: starting one per case would measure startup, not input handling.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = runtime.block_on(spawn_app());
        let org = app.create_org("Acme", "ada@acme.test");
        let session = app.session_for(
            org.admin_id,
            enlist::domain::AuthMethod::EmailCode,
            std::time::Duration::from_secs(86_400),
        );
        World {
            runtime,
            app,
            key: org.key,
            org_uuid: org.uuid,
            session,
        }
    })
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(serde_json::Value),
    Raw(Vec<u8>, &'static str),
}

fn send(method: Method, path: &str, headers: &[(String, Vec<u8>)], body: &Body) -> Option<Reply> {
    let world = world();
    world.runtime.block_on(async {
        let url = format!("{}{}", world.app.address, path);
        let mut request = world.app.client.request(method, &url);
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_bytes(value),
            ) {
                request = request.header(name, value);
            }
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Raw(bytes, content_type) => request
                .header("content-type", *content_type)
                .body(bytes.clone()),
        };
        // A URL reqwest itself refuses to send never reaches the server.
        let response = request.send().await.ok()?;
        Some(reply(response).await)
    })
}

/// The error contract for each family of endpoints.
fn assert_well_formed(path: &str, reply: &Reply) {
    let status = reply.status.as_u16();
    assert!(status < 500, "{status} for {path}: {}", reply.text);
    if status < 400 {
        return;
    }
    let content_type = reply.header("content-type").unwrap_or("");
    let bare = path.split('?').next().unwrap_or("");
    if (bare == "/oauth/token" || bare == "/oauth/revoke") && status != 405 {
        assert!(reply.body["error"].is_string(), "{path}: {}", reply.text);
        return;
    }
    if (bare.starts_with("/oauth/authorize") || bare.starts_with("/invite/"))
        && content_type.starts_with("text/html")
    {
        return;
    }
    assert_eq!(
        content_type, "application/problem+json",
        "{status} for {path}: {}",
        reply.text
    );
    for field in ["type", "title", "detail", "code"] {
        assert!(
            reply.body[field].is_string(),
            "{path}: {field} missing in {}",
            reply.text
        );
    }
    assert_eq!(reply.body["status"], status, "{path}");
}

/// Text that tends to break parsers: control characters, quotes, SQL and
/// HTML fragments, very long runs, non-ASCII, percent escapes.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,64}",
        Just("' OR '1'='1".to_owned()),
        Just("1; DROP TABLE invitations; --".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("%00%ff%2e%2e%2f".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("1e3".to_owned()),
        Just("\u{202e}\u{0000}\u{ffff}".to_owned()),
        "[a-z]{2000,3000}",
    ]
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        junk().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::hash_map(
                prop_oneof![
                    junk(),
                    Just("inviteeEmail".to_owned()),
                    Just("role".to_owned())
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::None),
        json_value().prop_map(Body::Json),
        (junk(), junk())
            .prop_map(|(email, role)| Body::Json(json!({ "inviteeEmail": email, "role": role }))),
        prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|bytes| Body::Raw(bytes, "application/json")),
        prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|bytes| Body::Raw(bytes, "application/x-www-form-urlencoded")),
        junk().prop_map(|text| Body::Raw(text.into_bytes(), "text/plain")),
    ]
}

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/organization"),
    ("GET", "/v1/organization/invitations"),
    ("POST", "/v1/organization/invitations"),
    ("POST", "/v1/organization/invitations/{}/revoke"),
    ("POST", "/v1/organization/invitations/{}/resend"),
    ("GET", "/v1/organization/users"),
    ("DELETE", "/v1/organization/users/{}"),
    ("GET", "/invitations"),
    ("GET", "/invitations/{}"),
    ("POST", "/invitations/{}"),
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/authorize"),
    ("GET", "/invite/{}"),
    ("POST", "/invite/{}"),
    ("POST", "/invite/{}/respond"),
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/.well-known/jwks.json"),
    ("PUT", "/v1/organization"),
    ("GET", "/{}"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn junk_never_breaks_an_endpoint(
        route in 0..ROUTES.len(),
        segment in junk(),
        query in prop::collection::vec((prop_oneof![Just("limit".to_owned()), Just("offset".to_owned()), Just("status".to_owned()), Just("includeExpired".to_owned()), Just("accept".to_owned()), Just("client_id".to_owned()), junk()], junk()), 0..4),
        body in body(),
        with_key in any::<bool>(),
        junk_key in junk(),
        bearer in junk(),
    ) {
        let (method, template) = ROUTES[route];
        let mut path = template.replace("{}", &encode(&segment));
        if !query.is_empty() {
            let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
            path = format!("{path}?{}", pairs.join("&"));
        }
        let world = world();
        let key = if with_key { world.key.clone() } else { junk_key.clone() };
        let headers = vec![
            ("x-api-key".to_owned(), key.into_bytes()),
            ("authorization".to_owned(), format!("Bearer {bearer}").into_bytes()),
            ("x-request-id".to_owned(), junk_key.into_bytes()),
        ];
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        if let Some(reply) = send(method, &path, &headers, &body) {
            assert_well_formed(&path, &reply);
        }
    }
}

/// The admin console's pages and forms, as a signed-in admin of the
/// organization reaches them (`{org}`), with junk in every other part.
const CONSOLE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin"),
    ("POST", "/admin"),
    ("POST", "/admin/sign-out"),
    ("GET", "/admin/orgs/{org}"),
    ("GET", "/admin/orgs/{}"),
    ("GET", "/admin/orgs/{org}/invitations"),
    ("GET", "/admin/orgs/{org}/members"),
    ("GET", "/admin/orgs/{org}/activity"),
    ("GET", "/admin/orgs/{org}/join-links"),
    ("GET", "/admin/orgs/{org}/api-keys"),
    ("GET", "/admin/orgs/{org}/webhooks"),
    ("POST", "/admin/orgs/{org}/invitations"),
    ("POST", "/admin/orgs/{org}/invitations/{}/revoke"),
    ("POST", "/admin/orgs/{org}/members/{}/role"),
    ("POST", "/admin/orgs/{org}/api-keys"),
    ("POST", "/admin/orgs/{org}/webhooks/{}/delete"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, .. ProptestConfig::default() })]

    /// Signed in, junk queries and forms answer a page or a redirect,
    /// never a 500 or anything but HTML.
    #[test]
    fn junk_never_breaks_a_console_page(
        route in 0..CONSOLE_ROUTES.len(),
        segment in junk(),
        query in prop::collection::vec((prop_oneof![Just("status".to_owned()), Just("includeExpired".to_owned()), Just("limit".to_owned()), Just("page".to_owned()), Just("type".to_owned()), Just("after".to_owned()), Just("notice".to_owned()), junk()], junk()), 0..4),
        body in body(),
        signed_in in any::<bool>(),
    ) {
        let world = world();
        let (method, template) = CONSOLE_ROUTES[route];
        let mut path = template
            .replace("{org}", &world.org_uuid)
            .replace("{}", &encode(&segment));
        if !query.is_empty() {
            let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
            path = format!("{path}?{}", pairs.join("&"));
        }
        let session = if signed_in { world.session.clone() } else { segment.clone() };
        let headers = vec![("cookie".to_owned(), format!("enlist_session={session}").into_bytes())];
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        if let Some(reply) = send(method, &path, &headers, &body) {
            let status = reply.status.as_u16();
            prop_assert!(status < 500, "{} for {}: {}", status, path, reply.text);
            // The session is real: the overview opens.
            if signed_in && query.is_empty() && template == "/admin/orgs/{org}" {
                prop_assert_eq!(status, 200, "{}", reply.text);
            }
            if status >= 400 {
                prop_assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{}: {}", path, reply.text);
            }
        }
    }
}

#[test]
fn injection_strings_are_stored_and_returned_verbatim() {
    let world = world();
    let app = &world.app;
    let nasty_name = "Robert'); DROP TABLE users;-- <script>alert(1)</script> & \"quotes\"";
    let signed_up = world.runtime.block_on(async {
        let email = "o'brien+tag@example.com";
        let invited = app.invite(&world.key, email, "MEMBER").await;
        assert_eq!(invited.status, 200, "{}", invited.text);
        assert_eq!(invited.body["inviteeEmail"], email);
        let listed = app.get("/v1/organization/invitations", &world.key).await;
        assert!(
            listed.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["inviteeEmail"] == email)
        );
        // The hosted page escapes what people typed.
        let uuid: String = app
            .db
            .read_blocking(|conn| {
                conn.query_one(
                    "SELECT uuid FROM invitations WHERE invitee_email = ?1",
                    &[&email],
                    |r| r.get(0),
                )
            })
            .unwrap();
        let page = app
            .client
            .get(format!("{}/invite/{uuid}", app.address))
            .send()
            .await
            .unwrap();
        let html = page.text().await.unwrap();
        assert!(
            html.contains("o&#39;brien+tag@example.com")
                || html.contains("o&#x27;brien+tag@example.com"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"), "{html}");
        uuid
    });
    // A member whose name is an injection attempt, added through the real service.
    app.db
        .write_blocking(|conn| {
            conn.execute(
                "UPDATE users SET first_name = ?1 WHERE email_key = 'ada@acme.test'",
                &[&nasty_name],
            )
        })
        .unwrap();
    let users = world
        .runtime
        .block_on(app.get("/v1/organization/users", &world.key));
    assert_eq!(
        users.body["items"][0]["firstName"], nasty_name,
        "{}",
        users.text
    );
    // The injection attempts dropped nothing: the users table still answers.
    let users_left: i64 = app
        .db
        .read_blocking(|conn| conn.query_one("SELECT COUNT(*) FROM users", &[], |r| r.get(0)))
        .unwrap();
    assert!(users_left >= 1);
    assert!(!signed_up.is_empty());
}
