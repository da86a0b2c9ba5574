//! The OpenAPI document served at `/openapi.json`: it is valid OpenAPI 3.1,
//! it keeps the promises issue 5 lists (bounds, defaults, scopes, flows,
//! problem details), and real responses of every documented operation
//! validate against it, so the document and the code cannot drift apart.

use crate::helpers::*;
use crate::oauth_helpers::*;
use enlist::api::openapi::ADMIN_OPERATIONS;
use enlist::domain::Scope;
use jsonschema::Validator;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The official OAS 3.1 JSON Schema; see `tests/fixtures/README.md`.
const OAS_31_SCHEMA: &str = include_str!("../fixtures/oas-3.1-schema.json");

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Operations anyone may call: no security requirement.
const PUBLIC: [&str; 12] = [
    "joinPage",
    "health",
    "ready",
    "metrics",
    "authorizationServerMetadata",
    "openidConfiguration",
    "jwks",
    "token",
    "revokeToken",
    "introspectToken",
    "authorize",
    "invitationPage",
];

/// The invitee API's operations: OAuth2 with the `invitations` scope (and
/// `userinfo`, with `openid`).
const INVITEE: [&str; 8] = [
    "userinfo",
    "listPendingInvitations",
    "getInvitation",
    "respondToInvitation",
    "listMyOrganizations",
    "createMyOrganization",
    "leaveOrganization",
    "listSuggestedOrganizations",
];

/// What a JSON pointer must percent-encode to sit in a URI fragment.
const FRAGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Documented statuses no black-box test can provoke: an internal error,
/// and a database too slow or a pool too busy to answer.
const UNREACHABLE: [&str; 2] = ["500", "503"];

pub async fn fetch_document(app: &TestApp) -> Value {
    let reply = app.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    reply.body
}

/// Every operation of the document: `operationId` -> (path, method, operation).
fn operations(doc: &Value) -> BTreeMap<String, (String, String, Value)> {
    let mut found = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let id = operation["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                    .to_owned();
                let previous = found.insert(
                    id.clone(),
                    (path.clone(), method.to_owned(), operation.clone()),
                );
                assert!(previous.is_none(), "operationId {id} is not unique");
            }
        }
    }
    found
}

/// A response as documented, following a `$ref` into `components/responses`:
/// the JSON pointer of the response object and the object itself.
fn resolve_response<'a>(
    doc: &'a Value,
    pointer: String,
    response: &'a Value,
) -> (String, &'a Value) {
    match response.get("$ref").and_then(Value::as_str) {
        Some(target) => {
            let local = target.strip_prefix('#').unwrap_or(target);
            let resolved = doc
                .pointer(local)
                .unwrap_or_else(|| panic!("{pointer}: {target} does not resolve"));
            (local.to_owned(), resolved)
        }
        None => (pointer, response),
    }
}

/// Every value in the document with the JSON pointer that reaches it.
fn walk<'a>(value: &'a Value, pointer: String, visit: &mut impl FnMut(&str, &'a Value)) {
    visit(&pointer, value);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                walk(child, format!("{pointer}/{}", escape(key)), visit);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                walk(child, format!("{pointer}/{index}"), visit);
            }
        }
        _ => {}
    }
}

/// A JSON pointer reference token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = spawn_app().await;
    let doc = fetch_document(&app).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");

    let schema: Value = serde_json::from_str(OAS_31_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::options()
        .offline()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the OAS 3.1 schema does not build offline: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OpenAPI 3.1:\n{errors:#?}");

    // The meta-schema has teeth: a broken document fails it.
    let mut broken = doc.clone();
    broken["paths"]["/healthz"]["get"]["responses"] = json!("none");
    assert!(!validator.is_valid(&broken));
    let mut broken = doc.clone();
    broken["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
        .as_object_mut()
        .unwrap()
        .remove("tokenUrl");
    assert!(!validator.is_valid(&broken));

    // The meta-schema leaves Schema Objects alone: each is valid JSON Schema 2020-12.
    walk(&doc, String::new(), &mut |pointer, value| {
        let component =
            pointer.starts_with("/components/schemas/") && pointer.matches('/').count() == 3;
        if (component || pointer.ends_with("/schema"))
            && let Err(e) = jsonschema::draft202012::meta::validate(value)
        {
            panic!("{pointer} is not a valid JSON Schema: {e}");
        }
    });
}

#[tokio::test]
async fn the_document_keeps_the_promises_the_schema_cannot_check() {
    let app = spawn_app().await;
    let doc = fetch_document(&app).await;
    let base = app.issuer();
    let operations = operations(&doc);

    // Every documented operation is one of the known ones, and every known one is documented.
    let known: BTreeSet<&str> = PUBLIC
        .iter()
        .copied()
        .chain(ADMIN_OPERATIONS.iter().map(|op| op.id))
        .chain(INVITEE.iter().copied())
        .collect();
    let documented: BTreeSet<&str> = operations.keys().map(String::as_str).collect();
    assert_eq!(documented, known);
    assert_eq!(doc["servers"][0]["url"], json!(base));

    // Every local reference resolves; there are no remote ones.
    walk(&doc, String::new(), &mut |pointer, value| {
        if pointer.ends_with("/$ref") {
            let target = value.as_str().unwrap();
            let local = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{pointer}: non-local $ref {target}"));
            assert!(
                doc.pointer(local).is_some(),
                "{pointer}: {target} does not resolve"
            );
        }
    });

    // Path templates and path parameters agree.
    for (id, (path, _, operation)) in &operations {
        let names: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .map(|rest| rest.split('}').next().unwrap())
            .collect();
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{id}: path parameters are required");
                p["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(names, declared, "{id}");
    }

    // Security schemes: the API key header, and OAuth2 with both flows at absolute URLs.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["api_key"],
        json!({
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": schemes["api_key"]["description"],
        })
    );
    assert!(schemes["api_key"]["description"].is_string());
    let oauth2 = &schemes["oauth2"];
    assert_eq!(oauth2["type"], "oauth2");
    let flows = &oauth2["flows"];
    let token_url = format!("{base}/oauth/token");
    let code = &flows["authorizationCode"];
    assert_eq!(
        code["authorizationUrl"],
        json!(format!("{base}/oauth/authorize"))
    );
    assert_eq!(code["tokenUrl"], json!(token_url));
    assert_eq!(code["refreshUrl"], json!(token_url));
    assert_eq!(flows["clientCredentials"]["tokenUrl"], json!(token_url));
    for url in [
        &code["authorizationUrl"],
        &code["tokenUrl"],
        &code["refreshUrl"],
        &flows["clientCredentials"]["tokenUrl"],
    ] {
        let url = url::Url::parse(url.as_str().unwrap()).unwrap();
        assert!(url.scheme() == "http" || url.scheme() == "https", "{url}");
    }
    for flow in ["authorizationCode", "clientCredentials"] {
        assert!(flows[flow]["scopes"]["invitations"].is_string(), "{flow}");
    }

    // Security requirements: none on public operations (and no global one),
    // the scope each operation needs on the others.
    assert!(doc.get("security").is_none_or(|s| s == &json!([])));
    for id in PUBLIC {
        let security = operations[id].2.get("security");
        assert!(
            security.is_none_or(|s| s == &json!([])),
            "{id}: {security:?}"
        );
    }
    let mut scopes_used = BTreeSet::new();
    for op in ADMIN_OPERATIONS {
        let (id, scope) = (op.id, op.scope);
        let (path, method, _) = &operations[id];
        assert_eq!(
            (path.as_str(), method.as_str()),
            (op.path, op.method.to_lowercase().as_str()),
            "{id}"
        );
        assert_eq!(
            operations[id].2["security"],
            json!([{ "api_key": [scope.as_str()] }]),
            "{id}"
        );
        scopes_used.insert(scope.as_str());
    }
    let all: BTreeSet<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        scopes_used, all,
        "every API-key scope guards some operation"
    );
    for id in INVITEE {
        let scope = if id == "userinfo" {
            "openid"
        } else {
            "invitations"
        };
        assert_eq!(
            operations[id].2["security"],
            json!([{ "oauth2": [scope] }]),
            "{id}"
        );
    }

    // The list parameters' bounds and defaults.
    let parameter = |id: &str, name: &str| -> Value {
        operations[id].2["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{id} has no parameter {name}"))
            .clone()
    };
    for id in ["listInvitations", "listUsers"] {
        let limit = parameter(id, "limit");
        assert_eq!(limit["in"], "query");
        assert_eq!(limit["schema"]["type"], "integer", "{id} limit");
        assert_eq!(limit["schema"]["minimum"], 1, "{id} limit");
        assert_eq!(limit["schema"]["maximum"], 1000, "{id} limit");
        assert_eq!(limit["schema"]["default"], 100, "{id} limit");
        let offset = parameter(id, "offset");
        assert_eq!(offset["in"], "query");
        assert_eq!(offset["schema"]["type"], "integer", "{id} offset");
        assert_eq!(offset["schema"]["minimum"], 0, "{id} offset");
        assert_eq!(offset["schema"]["default"], 0, "{id} offset");
    }
    let include_expired = parameter("listInvitations", "includeExpired");
    assert_eq!(include_expired["schema"]["type"], "boolean");
    assert_eq!(include_expired["schema"]["default"], false);
    let status = parameter("listInvitations", "status");
    assert_eq!(
        status["schema"]["enum"],
        json!(["PENDING", "ACCEPTED", "DECLINED", "REVOKED", "EXPIRED"])
    );
    for id in ["revokeInvitation", "resendInvitation", "removeUser"] {
        let path_id = parameter(id, "id");
        assert_eq!(path_id["schema"]["type"], "integer", "{id}");
        assert_eq!(path_id["schema"]["minimum"], 1, "{id}");
    }
    // Making admins needs users:write beside invitations:write: each
    // operation that can says so, and its 403 names the second scope.
    for id in [
        "inviteUser",
        "bulkInvite",
        "resendInvitation",
        "createJoinLink",
    ] {
        let operation = &operations[id].2;
        let description = operation["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("ADMIN") && description.contains("`users:write`"),
            "{id}: {description:?}"
        );
        if id != "bulkInvite" {
            let (_, refused) =
                resolve_response(&doc, id.to_owned(), &operation["responses"]["403"]);
            assert!(
                refused["description"]
                    .as_str()
                    .unwrap()
                    .contains("`users:write`"),
                "{id} 403: {refused}"
            );
        }
    }
    let accept = parameter("respondToInvitation", "accept");
    assert_eq!(
        (&accept["required"], &accept["schema"]["type"]),
        (&json!(true), &json!("boolean"))
    );

    // Every admin answer documents the RateLimit headers and the 429; every
    // admin write takes Idempotency-Key and documents its replay, 409 and 422.
    for &enlist::api::openapi::AdminOperation { id, scope, .. } in ADMIN_OPERATIONS {
        let (_, method, operation) = &operations[id];
        let responses = operation["responses"].as_object().unwrap();
        let (_, limited) = resolve_response(&doc, id.to_owned(), &responses["429"]);
        assert!(limited["headers"].get("Retry-After").is_some(), "{id} 429");
        let write = method != "get";
        for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('2')) {
            for name in ["RateLimit-Policy", "RateLimit"] {
                assert!(
                    response["headers"].get(name).is_some(),
                    "{id} {status} {name}"
                );
            }
            assert_eq!(
                response["headers"].get("Idempotent-Replayed").is_some(),
                write,
                "{id} {status}"
            );
        }
        let takes_key = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
        assert_eq!(takes_key, write, "{id} ({scope:?}) Idempotency-Key");
        if write {
            for status in ["409", "422"] {
                let (_, response) = resolve_response(&doc, id.to_owned(), &responses[status]);
                assert!(
                    response["description"]
                        .as_str()
                        .unwrap()
                        .contains("Idempotency-Key"),
                    "{id} {status}: {response}"
                );
            }
        }
    }
    for id in INVITEE.iter().chain(PUBLIC.iter()) {
        assert!(
            operations[*id].2["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|p| p["name"] != "Idempotency-Key"),
            "{id}"
        );
    }

    // Errors: problem details for every API error, RFC 6749 bodies at the
    // token and revocation endpoints, pages for people.
    let problem = json!({ "$ref": "#/components/schemas/Problem" });
    let oauth_error = json!({ "$ref": "#/components/schemas/OAuthError" });
    for (id, (_, _, operation)) in &operations {
        let responses = operation["responses"].as_object().unwrap();
        if ADMIN_OPERATIONS.iter().any(|op| op.id == id) {
            for status in ["401", "403"] {
                assert!(
                    responses.contains_key(status),
                    "{id} does not document {status}"
                );
            }
        }
        for (status, response) in responses {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let (_, response) = resolve_response(&doc, String::new(), response);
            let content = &response["content"];
            match id.as_str() {
                "token" | "revokeToken" | "introspectToken" | "userinfo" => assert_eq!(
                    content["application/json"]["schema"], oauth_error,
                    "{id} {status}"
                ),
                "authorize" | "invitationPage" | "joinPage" => {
                    assert!(content.get("text/html").is_some(), "{id} {status}")
                }
                _ => {
                    assert_eq!(
                        content.as_object().map(|c| c.len()),
                        Some(1),
                        "{id} {status}"
                    );
                    assert_eq!(
                        content["application/problem+json"]["schema"], problem,
                        "{id} {status}"
                    );
                }
            }
        }
    }
}

/// A copy of the document in which every object schema that lists its
/// `properties` allows no others, so an undocumented field fails validation.
/// Test-only: the served document stays open to additions.
fn closed(doc: &Value) -> Value {
    fn close(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.get("properties").is_some_and(Value::is_object)
                    && !map.contains_key("additionalProperties")
                {
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(close);
            }
            Value::Array(items) => items.iter_mut().for_each(close),
            _ => {}
        }
    }
    let mut doc = doc.clone();
    close(&mut doc);
    doc
}

/// Checks real responses against the document and counts what it checked.
struct Conformance {
    document: Value,
    closed: Value,
    operations: BTreeMap<String, (String, String, Value)>,
    validators: HashMap<String, Validator>,
    /// (operationId, documented status key) pairs answered at least once.
    covered: BTreeSet<(String, String)>,
    responses: usize,
}

impl Conformance {
    fn new(doc: &Value) -> Self {
        Self {
            document: doc.clone(),
            operations: operations(doc),
            closed: closed(doc),
            validators: HashMap::new(),
            covered: BTreeSet::new(),
            responses: 0,
        }
    }

    /// A validator for the schema at `pointer` (a JSON pointer into the
    /// document): its root is the whole document, so the schema's
    /// `#/components/schemas/...` references resolve.
    fn validator(&mut self, pointer: &str) -> &Validator {
        let closed = &self.closed;
        self.validators
            .entry(pointer.to_owned())
            .or_insert_with(|| {
                let mut root = closed.clone();
                // A URI fragment: the pointer percent-encoded (RFC 6901 section 6).
                let fragment = utf8_percent_encode(pointer, FRAGMENT).to_string();
                root["$ref"] = Value::String(format!("#{fragment}"));
                jsonschema::draft202012::options()
                    .offline()
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("no validator for {pointer}: {e}"))
            })
    }

    /// Asserts `reply` is a documented answer of `operation_id`: its status
    /// (or `default`) is listed, its content type is the listed one, and its
    /// JSON body validates against the listed schema.
    fn check(&mut self, operation_id: &str, reply: &Reply) {
        let (path, method, operation) = self
            .operations
            .get(operation_id)
            .unwrap_or_else(|| panic!("{operation_id} is not documented"))
            .clone();
        let status = reply.status.as_str().to_owned();
        let what = format!(
            "{operation_id} ({} {path}) answered {status}",
            method.to_uppercase()
        );
        let responses = &operation["responses"];
        let key = if responses.get(&status).is_some() {
            status.clone()
        } else if responses.get("default").is_some() {
            "default".to_owned()
        } else {
            panic!("{what}, which is not documented; body: {}", reply.text)
        };
        let (response_pointer, documented) = resolve_response(
            &self.document,
            format!("/paths/{}/{method}/responses/{key}", escape(&path)),
            &responses[&key],
        );
        let documented = documented.clone();
        for name in documented["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(n, _)| n)
        {
            // Retry-After is promised wherever it is documented; the others
            // (RateLimit, Idempotent-Replayed) only on some answers.
            if name == "Retry-After" {
                assert!(
                    reply.header(name).is_some(),
                    "{what} without {name}: {:?}",
                    reply.headers
                );
            }
        }
        let content = documented["content"].as_object().filter(|c| !c.is_empty());
        match content {
            None => assert!(
                reply.text.is_empty() && reply.header("content-type").is_none(),
                "{what} with a body, documented without one: {:?} {}",
                reply.header("content-type"),
                reply.text
            ),
            Some(content) => {
                let media_type = reply
                    .header("content-type")
                    .unwrap_or_else(|| panic!("{what} without a content type: {}", reply.text))
                    .split(';')
                    .next()
                    .unwrap()
                    .trim()
                    .to_ascii_lowercase();
                assert!(
                    content.contains_key(&media_type),
                    "{what} as {media_type}, documented as {:?}",
                    content.keys().collect::<Vec<_>>()
                );
                if media_type == "application/json" || media_type.ends_with("+json") {
                    assert!(
                        content[&media_type].get("schema").is_some(),
                        "{what}: JSON documented without a schema"
                    );
                    let body: Value = serde_json::from_str(&reply.text).unwrap_or_else(|e| {
                        panic!("{what} with invalid JSON ({e}): {}", reply.text)
                    });
                    let pointer =
                        format!("{response_pointer}/content/{}/schema", escape(&media_type));
                    let errors: Vec<String> = self
                        .validator(&pointer)
                        .iter_errors(&body)
                        .map(|e| format!("{e} at {}", e.instance_path()))
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "{what}; the body does not match the documented schema:\n{errors:#?}\nbody: {body:#}"
                    );
                }
            }
        }
        self.covered.insert((operation_id.to_owned(), key));
        self.responses += 1;
    }

    /// The validation errors of `body` as the `status` answer of `operation_id`.
    fn errors(&mut self, operation_id: &str, status: &str, body: &Value) -> Vec<String> {
        let (path, method, _) = &self.operations[operation_id];
        let pointer = format!(
            "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
            escape(path)
        );
        self.validator(&pointer)
            .iter_errors(body)
            .map(|e| e.to_string())
            .collect()
    }

    /// Every operation was called, and every documented status a test can
    /// provoke was seen.
    fn assert_complete(&self) {
        let mut missing = Vec::new();
        for (id, (_, _, operation)) in &self.operations {
            for status in operation["responses"].as_object().unwrap().keys() {
                let pair = (id.clone(), status.clone());
                if !UNREACHABLE.contains(&status.as_str()) && !self.covered.contains(&pair) {
                    missing.push(format!("{id} {status}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "documented but never checked: {missing:#?}"
        );
    }
}

/// Every admin operation with a path that reaches it (ids are 1) and the
/// scope it needs.
fn admin_operations() -> Vec<(&'static str, Method, String, Scope)> {
    ADMIN_OPERATIONS
        .iter()
        .map(|op| {
            (
                op.id,
                Method::from_bytes(op.method.as_bytes()).unwrap(),
                op.path
                    .replace("{id}", "1")
                    .replace("{userId}", "1")
                    .replace("{key}", "billing"),
                op.scope,
            )
        })
        .collect()
}

async fn retry_with_key(
    app: &TestApp,
    method: Method,
    path: &str,
    api_key: &str,
    idempotency_key: String,
    body: &'static str,
) -> Reply {
    app.send_raw(
        method,
        path,
        &[
            ("X-API-Key", api_key),
            ("Idempotency-Key", &idempotency_key),
            ("Content-Type", "application/json"),
        ],
        body,
    )
    .await
}

/// Over the rate limit, every admin operation answers 429; every admin
/// write answers 422 to a reused Idempotency-Key and 409 while the key's
/// first request still runs.
async fn limits_and_retries(spec: &mut Conformance) {
    let app = spawn_app_with(|s| s.limits.admin_per_minute = 1).await;
    let org = app.create_org("acme", "admin@acme.test");
    let first = app.get("/v1/organization", &org.key).await;
    assert_eq!(first.status, 200, "{}", first.text);
    spec.check("getOrganization", &first);
    for (id, method, path, _) in admin_operations() {
        let reply = app.request(method, &path, Some(&org.key), None).await;
        reply.assert_problem(429, "rate_limited");
        spec.check(id, &reply);
    }

    let app = spawn_app().await;
    let org = app.create_org("acme", "admin@acme.test");
    let key_id = app.query_i64("SELECT MAX(id) FROM api_keys");
    let writes = admin_operations()
        .into_iter()
        .filter(|(_, method, _, _)| *method != Method::GET);
    for (id, method, path, _) in writes {
        let send = |idempotency_key: String, body: &'static str| {
            retry_with_key(&app, method.clone(), &path, &org.key, idempotency_key, body)
        };
        let stored = send(format!("{id}-first"), "{}").await;
        spec.check(id, &stored);
        let reused = send(format!("{id}-first"), r#"{"role":"MEMBER"}"#).await;
        reused.assert_problem(422, "idempotency_key_reused");
        spec.check(id, &reused);

        // What a first request still running leaves: an entry without an answer.
        let mut fingerprint = Sha256::new();
        for part in [method.as_str(), path.as_str()] {
            fingerprint.update(part.as_bytes());
            fingerprint.update([0]);
        }
        fingerprint.update(b"{}");
        let fingerprint = app.blob_literal(&fingerprint.finalize());
        let now = app.clock.now().0;
        app.execute_sql(&format!(
            "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, created_at, expires_at)
             VALUES ({key_id}, '{id}-running', {fingerprint}, {now}, {later})",
            later = now + 86_400_000
        ));
        let running = send(format!("{id}-running"), "{}").await;
        running.assert_problem(409, "idempotency_key_in_use");
        spec.check(id, &running);
    }

    // The replay of an answer that showed a secret once: documented too,
    // without the secret and with `secretOmitted`.
    let hook = r#"{"url": "https://93.184.216.34/in", "enabled": false}"#;
    let link = r#"{"maxUses": 1, "expiresIn": "1d"}"#;
    let mut rotate = String::new();
    for (id, body) in [
        ("createWebhook", hook),
        ("rotateWebhookSecret", "{}"),
        ("createJoinLink", link),
    ] {
        let path = match id {
            "createWebhook" => "/v1/organization/webhooks",
            "createJoinLink" => "/v1/organization/join-links",
            _ => &rotate,
        };
        let mut answers = Vec::new();
        for _ in 0..2 {
            let reply =
                retry_with_key(&app, Method::POST, path, &org.key, format!("{id}-1"), body).await;
            assert_eq!(reply.status, 200, "{id}: {}", reply.text);
            spec.check(id, &reply);
            answers.push(reply);
        }
        assert_eq!(answers[1].header("idempotent-replayed"), Some("true"));
        assert_eq!(
            answers[1].body["secretOmitted"], true,
            "{}",
            answers[1].text
        );
        if id == "createWebhook" {
            let endpoint = answers[0].body["id"].as_i64().unwrap();
            rotate = format!("/v1/organization/webhooks/{endpoint}/rotate-secret");
        }
    }
}

/// The admin API, from success to every documented refusal.
async fn admin_api(app: &TestApp, spec: &mut Conformance) -> (TestOrg, i64) {
    let org = app.create_org("acme", "admin@acme.test");
    let key = org.key.as_str();
    // A key with one scope only, for the 403s.
    let users_only = app.api_key(org.id, org.admin_id, &[Scope::UsersRead]);
    let org_only = app.api_key(org.id, org.admin_id, &[Scope::OrganizationRead]);
    let lacking = |scope: Scope| {
        if scope == Scope::OrganizationRead {
            users_only.clone()
        } else {
            org_only.clone()
        }
    };

    // Every admin operation refuses a missing key, an unknown key, and a key without its scope.
    let anywhere = admin_operations();
    let body = json!({ "inviteeEmail": "x@example.test", "role": "MEMBER" });
    for (id, method, path, scope) in anywhere {
        let body = (method == Method::POST || method == Method::PATCH).then_some(&body);
        for (presented, status) in [
            (None, 401),
            (Some(WELL_FORMED_UNKNOWN_KEY.to_owned()), 401),
            (Some(lacking(scope)), 403),
        ] {
            let reply = app
                .request(method.clone(), &path, presented.as_deref(), body)
                .await;
            assert_eq!(reply.status, status, "{id}: {}", reply.text);
            spec.check(id, &reply);
        }
    }

    // Organization.
    let reply = app.get("/v1/organization", key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("getOrganization", &reply);
    for (body, status) in [
        (
            json!({ "logoUrl": null, "metadata": { "plan": "pro" } }),
            200,
        ),
        (json!({ "metadata": [1] }), 400),
    ] {
        let reply = app
            .request(Method::PATCH, "/v1/organization", Some(key), Some(&body))
            .await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("updateOrganization", &reply);
    }
    let reply = app.get("/v1/organization", key).await;
    spec.check("getOrganization", &reply);
    let reply = app.get("/v1/organization/export", key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("exportOrganization", &reply);
    let doomed = app.create_org("Doomed", "dora@doomed.test");
    for (confirm, status) in [("doomed", 400), ("Doomed", 200)] {
        let body = json!({ "confirm": confirm });
        let reply = app
            .request(
                Method::DELETE,
                "/v1/organization",
                Some(&doomed.key),
                Some(&body),
            )
            .await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("deleteOrganization", &reply);
    }

    // Invitations: create, and the ways creating fails.
    let reply = app.get("/v1/organization/invitations", key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("listInvitations", &reply);
    let reply = app.invite(key, "bob@example.test", "MEMBER").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("inviteUser", &reply);
    let bob = reply.body["id"].as_i64().unwrap();
    // One invitation, with its options.
    let reply = app
        .post(
            "/v1/organization/invitations",
            key,
            &json!({ "inviteeEmail": "opt@example.test", "role": "MEMBER",
                     "expiresIn": "3d", "message": "Hello", "metadata": { "k": 1 } }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("inviteUser", &reply);
    let with_options = reply.body["id"].as_i64().unwrap();
    for id in [with_options, bob] {
        let reply = app
            .get(&format!("/v1/organization/invitations/{id}"), key)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        spec.check("getAdminInvitation", &reply);
    }
    for (id, status) in [("abc", 400), ("999999", 404)] {
        let reply = app
            .get(&format!("/v1/organization/invitations/{id}"), key)
            .await;
        assert_eq!(reply.status, status, "{id}: {}", reply.text);
        spec.check("getAdminInvitation", &reply);
    }
    let reply = app.invite(key, "carol@example.test", "ADMIN").await;
    spec.check("inviteUser", &reply);
    let carol = reply.body["id"].as_i64().unwrap();
    for (body, status) in [
        (
            json!({ "inviteeEmail": "not an email", "role": "MEMBER" }),
            400,
        ),
        (
            json!({ "inviteeEmail": "dan@example.test", "role": "OWNER" }),
            400,
        ),
        (json!({ "inviteeEmail": "dan@example.test" }), 400),
        (
            json!({ "inviteeEmail": "bob@example.test", "role": "MEMBER" }),
            409,
        ),
        (
            json!({ "inviteeEmail": "admin@acme.test", "role": "MEMBER" }),
            409,
        ),
    ] {
        let reply = app.post("/v1/organization/invitations", key, &body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        spec.check("inviteUser", &reply);
    }
    let json = [("X-API-Key", key), ("Content-Type", "application/json")];
    let reply = app
        .send_raw(
            Method::POST,
            "/v1/organization/invitations",
            &json,
            "{\"inviteeEmail\":",
        )
        .await;
    reply.assert_problem(400, "malformed_json");
    spec.check("inviteUser", &reply);
    let big = format!(
        "{{\"inviteeEmail\":\"big@example.test\",\"role\":\"MEMBER\",\"pad\":\"{}\"}}",
        "x".repeat(1024 * 1024 + 1)
    );
    let reply = app
        .send_raw(Method::POST, "/v1/organization/invitations", &json, big)
        .await;
    reply.assert_problem(413, "payload_too_large");
    spec.check("inviteUser", &reply);
    let text = [("X-API-Key", key), ("Content-Type", "text/plain")];
    let reply = app
        .send_raw(
            Method::POST,
            "/v1/organization/invitations",
            &text,
            body.to_string(),
        )
        .await;
    reply.assert_problem(415, "unsupported_media_type");
    spec.check("inviteUser", &reply);
    // Too many messages to one address: creates after revokes count too.
    for _ in 0..3 {
        let id = app.invite_ok(key, "flo@example.test", "MEMBER").await;
        assert_eq!(app.revoke(key, id).await.status, 200);
    }
    let reply = app.invite(key, "flo@example.test", "MEMBER").await;
    reply.assert_problem(429, "too_many_requests");
    spec.check("inviteUser", &reply);

    // Listing, with every parameter, and the ways its parameters fail.
    for query in [
        "?limit=1000&offset=0&status=PENDING&includeExpired=true",
        "?limit=1&offset=1",
        "?status=REVOKED&includeExpired=false",
    ] {
        let reply = app
            .get(&format!("/v1/organization/invitations{query}"), key)
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        spec.check("listInvitations", &reply);
    }
    for query in [
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?offset=-1",
        "?status=LOST",
        "?includeExpired=maybe",
        "?limit=1&limit=2",
    ] {
        let reply = app
            .get(&format!("/v1/organization/invitations{query}"), key)
            .await;
        reply.assert_problem(400, "validation_failed");
        spec.check("listInvitations", &reply);
    }

    // Resend: once, then too soon; and the ways it fails.
    let resend = |id: String| format!("/v1/organization/invitations/{id}/resend");
    let reply = app
        .request(Method::POST, &resend(bob.to_string()), Some(key), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("resendInvitation", &reply);
    let reply = app
        .request(Method::POST, &resend(bob.to_string()), Some(key), None)
        .await;
    reply.assert_problem(429, "too_many_requests");
    assert!(reply.header("retry-after").is_some());
    spec.check("resendInvitation", &reply);
    for (id, status) in [("999999", 404), ("abc", 400), ("0", 400)] {
        let reply = app
            .request(Method::POST, &resend(id.into()), Some(key), None)
            .await;
        assert_eq!(reply.status, status, "{id}: {}", reply.text);
        spec.check("resendInvitation", &reply);
    }

    // Revoke: twice (idempotent), then resending the revoked one conflicts.
    for _ in 0..2 {
        let reply = app.revoke(key, carol).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        spec.check("revokeInvitation", &reply);
    }
    let reply = app
        .request(Method::POST, &resend(carol.to_string()), Some(key), None)
        .await;
    reply.assert_problem(409, "invitation_not_resendable");
    spec.check("resendInvitation", &reply);
    for (id, status) in [("999999", 404), ("abc", 400)] {
        let reply = app.revoke(key, id).await;
        assert_eq!(reply.status, status, "{id}: {}", reply.text);
        spec.check("revokeInvitation", &reply);
    }
    let accepted = app.invite_ok(key, "erin@example.test", "MEMBER").await;
    app.set_stored_status(accepted, "ACCEPTED");
    let reply = app.revoke(key, accepted).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    spec.check("revokeInvitation", &reply);

    // Users: list, remove, and the ways removing fails.
    let member = app.add_member(org.id, "mel@example.test", "MEMBER");
    for query in ["", "?limit=1000&offset=0", "?limit=1&offset=1"] {
        let reply = app
            .get(&format!("/v1/organization/users{query}"), key)
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        spec.check("listUsers", &reply);
    }
    for query in ["?limit=0", "?offset=x"] {
        let reply = app
            .get(&format!("/v1/organization/users{query}"), key)
            .await;
        reply.assert_problem(400, "validation_failed");
        spec.check("listUsers", &reply);
    }
    // Making admins without users:write: 403 for one, `invalid` for an item.
    let narrow = app.api_key(org.id, org.admin_id, &[Scope::InvitationsWrite]);
    let reply = app.invite(&narrow, "mallory@example.test", "ADMIN").await;
    reply.assert_problem(403, "missing_scope");
    spec.check("inviteUser", &reply);
    let reply = app
        .post(
            "/v1/organization/invitations/bulk",
            &narrow,
            &json!({ "items": [{ "inviteeEmail": "mallory@example.test", "role": "ADMIN" }] }),
        )
        .await;
    assert_eq!(reply.body["items"][0]["error"]["code"], "missing_scope");
    spec.check("bulkInvite", &reply);
    let admin_invitation = app.invite_ok(key, "frank@example.test", "ADMIN").await;
    let reply = app
        .request(
            Method::POST,
            &resend(admin_invitation.to_string()),
            Some(&narrow),
            None,
        )
        .await;
    reply.assert_problem(403, "missing_scope");
    spec.check("resendInvitation", &reply);
    let reply = app
        .post(
            "/v1/organization/join-links",
            &narrow,
            &json!({ "role": "ADMIN", "maxUses": 1, "expiresIn": "1d" }),
        )
        .await;
    reply.assert_problem(403, "missing_scope");
    spec.check("createJoinLink", &reply);

    // Bulk: every item status, and a refused request.
    let reply = app
        .post(
            "/v1/organization/invitations/bulk",
            key,
            &json!({ "items": [
                { "inviteeEmail": "bulk@example.test", "role": "MEMBER", "metadata": { "row": 1 } },
                { "inviteeEmail": "bob@example.test", "role": "MEMBER" },
                { "inviteeEmail": "admin@acme.test", "role": "MEMBER" },
                { "inviteeEmail": "bulk2@example.test", "role": "OWNER" },
            ] }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("bulkInvite", &reply);
    let reply = app
        .post(
            "/v1/organization/invitations/bulk",
            key,
            &json!({ "items": 3 }),
        )
        .await;
    reply.assert_problem(400, "validation_failed");
    spec.check("bulkInvite", &reply);

    // Join links: create, list, revoke, and the ways they fail.
    let reply = app
        .post(
            "/v1/organization/join-links",
            key,
            &json!({ "maxUses": 5, "expiresIn": "1d", "allowedEmailDomains": ["example.test"] }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("createJoinLink", &reply);
    let link = reply.body["id"].as_i64().unwrap();
    for body in [
        json!({ "maxUses": 0, "expiresIn": "1d" }),
        json!({ "maxUses": 5 }),
        json!({ "maxUses": 5, "expiresIn": "1d", "role": "OWNER" }),
    ] {
        let reply = app.post("/v1/organization/join-links", key, &body).await;
        reply.assert_problem(400, "validation_failed");
        spec.check("createJoinLink", &reply);
    }
    for query in ["", "?limit=1&offset=0"] {
        let reply = app
            .get(&format!("/v1/organization/join-links{query}"), key)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        spec.check("listJoinLinks", &reply);
    }
    let reply = app.get("/v1/organization/join-links?limit=0", key).await;
    reply.assert_problem(400, "validation_failed");
    spec.check("listJoinLinks", &reply);
    for (id, status) in [
        (link.to_string(), 200),
        ("abc".into(), 400),
        ("999999".into(), 404),
    ] {
        let reply = app
            .request(
                Method::POST,
                &format!("/v1/organization/join-links/{id}/revoke"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(reply.status, status, "{id}: {}", reply.text);
        spec.check("revokeJoinLink", &reply);
    }

    // Role changes, and the ways they fail.
    let user = |id: &str| format!("/v1/organization/users/{id}");
    for role in ["ADMIN", "MEMBER"] {
        let reply = app
            .request(
                Method::PATCH,
                &user(&member.to_string()),
                Some(key),
                Some(&json!({ "role": role })),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        spec.check("updateUser", &reply);
    }
    for (id, role, status) in [
        ("abc".to_owned(), "ADMIN", 400),
        (member.to_string(), "OWNER", 400),
        ("999999".to_owned(), "ADMIN", 404),
        (org.admin_id.to_string(), "MEMBER", 409),
    ] {
        let reply = app
            .request(
                Method::PATCH,
                &user(&id),
                Some(key),
                Some(&json!({ "role": role })),
            )
            .await;
        assert_eq!(reply.status, status, "{id} {role}: {}", reply.text);
        spec.check("updateUser", &reply);
    }
    let reply = app.remove_user(key, member).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("removeUser", &reply);
    for (id, status) in [
        (member.to_string(), 404),
        ("abc".to_owned(), 400),
        (org.admin_id.to_string(), 409),
    ] {
        let reply = app.remove_user(key, &id).await;
        assert_eq!(reply.status, status, "{id}: {}", reply.text);
        spec.check("removeUser", &reply);
    }
    (org, accepted)
}

/// The audit log and webhook endpoints, from success to every refusal.
async fn events_and_webhooks(app: &TestApp, spec: &mut Conformance, org: &TestOrg) {
    let key = org.key.as_str();
    let page = app.get("/v1/organization/events?limit=2", key).await;
    assert_eq!(page.status, 200, "{}", page.text);
    spec.check("listEvents", &page);
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();
    for query in [
        format!("?after={cursor}&type=invitation.created,member.added"),
        "?since=2020-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&type=member.removed".into(),
    ] {
        let reply = app
            .get(&format!("/v1/organization/events{query}"), key)
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        spec.check("listEvents", &reply);
    }
    for query in ["?limit=0", "?after=nope", "?type=nope", "?since=soon"] {
        let reply = app
            .get(&format!("/v1/organization/events{query}"), key)
            .await;
        reply.assert_problem(400, "validation_failed");
        spec.check("listEvents", &reply);
    }

    let hooks = "/v1/organization/webhooks";
    let reply = app
        .post(
            hooks,
            key,
            &json!({ "url": "https://93.184.216.34/in", "events": ["member.added"],
                                   "enabled": false, "description": "docs" }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("createWebhook", &reply);
    let id = reply.body["id"].as_i64().unwrap();
    for body in [
        json!({ "url": "http://93.184.216.34/in" }),
        json!({ "url": "https://93.184.216.34/in", "events": ["nope"] }),
        json!({ "events": [] }),
    ] {
        let reply = app.post(hooks, key, &body).await;
        reply.assert_problem(400, "validation_failed");
        spec.check("createWebhook", &reply);
    }
    for n in 1..20 {
        let reply = app
            .post(
                hooks,
                key,
                &json!({ "url": format!("https://93.184.216.34/{n}"), "enabled": false }),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let reply = app
        .post(
            hooks,
            key,
            &json!({ "url": "https://93.184.216.34/21", "enabled": false }),
        )
        .await;
    reply.assert_problem(409, "webhook_limit");
    spec.check("createWebhook", &reply);
    for (query, status) in [("", 200), ("?limit=5&offset=5", 200), ("?limit=0", 400)] {
        let reply = app.get(&format!("{hooks}{query}"), key).await;
        assert_eq!(reply.status, status, "{query}: {}", reply.text);
        spec.check("listWebhooks", &reply);
    }
    let one = |id: &str, rest: &str| format!("{hooks}/{id}{rest}");
    for (target, status) in [
        (id.to_string(), 200),
        ("abc".into(), 400),
        ("999999".into(), 404),
    ] {
        let reply = app.get(&one(&target, ""), key).await;
        assert_eq!(reply.status, status, "{target}: {}", reply.text);
        spec.check("getWebhook", &reply);
        let reply = app.get(&one(&target, "/deliveries"), key).await;
        assert_eq!(reply.status, status, "{target}: {}", reply.text);
        spec.check("listWebhookDeliveries", &reply);
        let reply = app
            .request(
                Method::POST,
                &one(&target, "/rotate-secret"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(reply.status, status, "{target}: {}", reply.text);
        spec.check("rotateWebhookSecret", &reply);
    }
    let reply = app
        .get(&one(&id.to_string(), "/deliveries?limit=0"), key)
        .await;
    reply.assert_problem(400, "validation_failed");
    spec.check("listWebhookDeliveries", &reply);
    for (target, body, status) in [
        (
            id.to_string(),
            json!({ "description": "changed", "events": [] }),
            200,
        ),
        (id.to_string(), json!({ "url": "https://10.0.0.1/in" }), 400),
        ("999999".into(), json!({ "enabled": true }), 404),
    ] {
        let reply = app
            .request(Method::PATCH, &one(&target, ""), Some(key), Some(&body))
            .await;
        assert_eq!(reply.status, status, "{target}: {}", reply.text);
        spec.check("updateWebhook", &reply);
    }
    for (target, status) in [
        (id.to_string(), 409),
        ("abc".into(), 400),
        ("999999".into(), 404),
    ] {
        let reply = app
            .request(Method::POST, &one(&target, "/test"), Some(key), None)
            .await;
        assert_eq!(reply.status, status, "{target}: {}", reply.text);
        spec.check("testWebhook", &reply);
    }
    // Enabled, it takes the test event (its delivery goes nowhere here).
    let reply = app
        .request(
            Method::PATCH,
            &one(&id.to_string(), ""),
            Some(key),
            Some(&json!({ "enabled": true })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = app
        .request(
            Method::POST,
            &one(&id.to_string(), "/test"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    spec.check("testWebhook", &reply);
    for (target, status) in [
        (id.to_string(), 200),
        ("abc".into(), 400),
        (id.to_string(), 404),
    ] {
        let reply = app.delete(&one(&target, ""), key).await;
        assert_eq!(reply.status, status, "{target}: {}", reply.text);
        spec.check("deleteWebhook", &reply);
    }
}

/// The invitee API: list, get, accept and decline, and their refusals.
async fn invitee_api(app: &TestApp, spec: &mut Conformance, org: &TestOrg, accepted: i64) {
    let key = org.key.as_str();
    let email = "iris@example.test";
    let token = app.invitee_token(email).await;
    let (_, first) = app.invite_with_uuid(key, email, "MEMBER").await;
    let other = app.create_org("globex", "admin@globex.test");
    let (_, second) = app.invite_with_uuid(&other.key, email, "ADMIN").await;
    let third_org = app.create_org("initech", "admin@initech.test");
    let (expired_id, expired) = app.invite_with_uuid(&third_org.key, email, "MEMBER").await;
    app.expire_in_place(expired_id);

    let reply = app.invitee_get("/invitations", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body.as_array().unwrap().len(), 2, "{}", reply.text);
    spec.check("listPendingInvitations", &reply);
    for presented in [None, Some("not-a-token")] {
        let mut request = app.client.get(format!("{}/invitations", app.address));
        if let Some(token) = presented {
            request = request.bearer_auth(token);
        }
        let reply = crate::helpers::reply(request.send().await.unwrap()).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        spec.check("listPendingInvitations", &reply);
    }

    let get = |uuid: &str| format!("/invitations/{uuid}");
    let reply = app.invitee_get(&get(&first), &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("getInvitation", &reply);
    let unknown = uuid::Uuid::new_v4().to_string();
    let someone_elses = app.invitation_uuid(accepted);
    for (uuid, status) in [
        (unknown.as_str(), 404),
        (someone_elses.as_str(), 404),
        ("not-a-uuid", 422),
        (expired.as_str(), 410),
    ] {
        let reply = app.invitee_get(&get(uuid), &token).await;
        assert_eq!(reply.status, status, "{uuid}: {}", reply.text);
        spec.check("getInvitation", &reply);
    }
    let reply = app.bearer(Method::GET, &get(&first), "not-a-token").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    spec.check("getInvitation", &reply);

    // Accepting answers the organization's UUID; declining answers null.
    let reply = app.respond(&first, "true", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!(org.uuid));
    spec.check("respondToInvitation", &reply);
    let reply = app.respond(&second, "false", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.text.trim(), "null");
    spec.check("respondToInvitation", &reply);
    let reply = app.invitee_get(&get(&first), &token).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    spec.check("getInvitation", &reply);
    for (uuid, accept, status) in [
        (first.as_str(), "true", 409),
        (expired.as_str(), "true", 410),
        (unknown.as_str(), "false", 404),
        ("not-a-uuid", "true", 422),
        (first.as_str(), "maybe", 422),
    ] {
        let reply = app.respond(uuid, accept, &token).await;
        assert_eq!(reply.status, status, "{uuid} {accept}: {}", reply.text);
        spec.check("respondToInvitation", &reply);
    }
    for query in ["", "?accept=true&accept=false"] {
        let reply = app
            .bearer(
                Method::POST,
                &format!("/invitations/{first}{query}"),
                &token,
            )
            .await;
        assert!(reply.status.is_client_error(), "{query}: {}", reply.text);
        spec.check("respondToInvitation", &reply);
    }
    let reply = app.respond(&first, "true", "not-a-token").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    spec.check("respondToInvitation", &reply);

    // Memberships: list, leave, and the refusals.
    let reply = app.invitee_get("/organizations", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body.as_array().unwrap().len(), 1, "{}", reply.text);
    spec.check("listMyOrganizations", &reply);
    let reply = app.invitee_get("/organizations", "not-a-token").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    spec.check("listMyOrganizations", &reply);
    // Self-serve creation is off here (see `self_serve` for the rest).
    let reply = create_own(app, &token, &json!({ "name": "Mine" })).await;
    reply.assert_problem(403, "self_serve_disabled");
    spec.check("createMyOrganization", &reply);
    let leave = |uuid: &str| format!("/organizations/{uuid}/membership");
    let reply = app.bearer(Method::DELETE, &leave(&org.uuid), &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("leaveOrganization", &reply);
    let globex_admin = app
        .client_token(&app.bound_client("admin@globex.test"))
        .await;
    for (uuid, who, status) in [
        (org.uuid.as_str(), token.as_str(), 404),
        ("not-a-uuid", token.as_str(), 422),
        (other.uuid.as_str(), globex_admin.as_str(), 409),
        (org.uuid.as_str(), "not-a-token", 401),
    ] {
        let reply = app.bearer(Method::DELETE, &leave(uuid), who).await;
        assert_eq!(reply.status, status, "{uuid}: {}", reply.text);
        spec.check("leaveOrganization", &reply);
    }

    // Suggestions: none for this address's domain; the token is needed.
    let reply = app.invitee_get("/organizations/suggested", &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("listSuggestedOrganizations", &reply);
    let reply = app
        .invitee_get("/organizations/suggested", "not-a-token")
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    spec.check("listSuggestedOrganizations", &reply);

    // An account whose email is not proven sees nothing.
    app.create_unverified_user("sam@example.test", None);
    let unverified = app
        .client_token(&app.bound_client("sam@example.test"))
        .await;
    for (operation, reply) in [
        (
            "listPendingInvitations",
            app.invitee_get("/invitations", &unverified).await,
        ),
        (
            "getInvitation",
            app.invitee_get(&get(&second), &unverified).await,
        ),
        (
            "respondToInvitation",
            app.respond(&second, "true", &unverified).await,
        ),
        (
            "listMyOrganizations",
            app.invitee_get("/organizations", &unverified).await,
        ),
        (
            "leaveOrganization",
            app.bearer(Method::DELETE, &leave(&org.uuid), &unverified)
                .await,
        ),
        (
            "createMyOrganization",
            create_own(app, &unverified, &json!({ "name": "Mine" })).await,
        ),
        (
            "listSuggestedOrganizations",
            app.invitee_get("/organizations/suggested", &unverified)
                .await,
        ),
    ] {
        reply.assert_problem(403, "email_unverified");
        spec.check(operation, &reply);
    }
}

async fn create_own(app: &TestApp, token: &str, body: &Value) -> Reply {
    let request = app
        .client
        .post(format!("{}/organizations", app.address))
        .json(body)
        .bearer_auth(token);
    reply(request.send().await.unwrap()).await
}

/// `POST /organizations` where self-serve creation is on (one each).
async fn self_serve(spec: &mut Conformance) {
    let app = spawn_app_with(|settings| {
        settings.organizations.self_serve = true;
        settings.organizations.per_user_limit = 1;
    })
    .await;
    let token = app.invitee_token("ivy@example.test").await;
    for (body, status) in [
        (json!({ "name": "Ivy Labs" }), 200),
        (json!({ "name": "Ivy Two" }), 409),
        (json!({ "name": "" }), 400),
    ] {
        let reply = create_own(&app, &token, &body).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("createMyOrganization", &reply);
    }
    let reply = create_own(&app, "not-a-token", &json!({ "name": "X" })).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    spec.check("createMyOrganization", &reply);
}

/// The authorization server: every grant, revocation, their errors, and the
/// metadata document.
async fn oauth(app: &TestApp, spec: &mut Conformance) {
    let reply = app
        .request(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("authorizationServerMetadata", &reply);
    let reply = app
        .request(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("jwks", &reply);

    // Client credentials (no refresh token), authorization code, refresh.
    app.create_user("cc@example.test", None);
    let bound = app.bound_client("cc@example.test");
    let reply = app.client_credentials(&bound).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body.get("refresh_token").is_none(), "{}", reply.text);
    spec.check("token", &reply);
    let public = app.public_client();
    let reply = sign_up_and_get_tokens(app, &public, "sam@example.test").await;
    spec.check("token", &reply);
    let refresh_token = reply.body["refresh_token"].as_str().unwrap().to_owned();
    let reply = refresh(app, &public, &refresh_token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("token", &reply);
    let rotated = reply.body["refresh_token"].as_str().unwrap().to_owned();

    // Token errors: RFC 6749 bodies, documented per status.
    let secret = bound.secret.as_deref().unwrap();
    let basic = Some((bound.client_id.as_str(), secret));
    for (form, basic, status, error) in [
        (
            vec![("grant_type", "password")],
            basic,
            400,
            "unsupported_grant_type",
        ),
        (vec![], basic, 400, "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", "bogus")],
            basic,
            400,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "client_credentials")],
            Some((bound.client_id.as_str(), "wrong")),
            401,
            "invalid_client",
        ),
    ] {
        let reply = app.token_request(&form, basic).await;
        assert_oauth_error(&reply, status, error);
        spec.check("token", &reply);
    }
    let reply = app
        .send_raw(
            Method::POST,
            "/oauth/token",
            &[("Content-Type", "application/json")],
            r#"{"grant_type":"client_credentials"}"#,
        )
        .await;
    assert_oauth_error(&reply, 400, "invalid_request");
    spec.check("token", &reply);

    // OpenID Connect: discovery, userinfo and its refusals, introspection.
    let reply = app
        .request(Method::GET, "/.well-known/openid-configuration", None, None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("openidConfiguration", &reply);
    let request = AuthRequest::for_client(&public).with("scope", "openid email invitations");
    let code = authorization_code(
        app,
        &request,
        Intent::SignIn {
            email: "sam@example.test",
            password: PASSWORD,
        },
    )
    .await;
    let tokens = exchange_code(app, &public, &request, &code).await;
    assert!(tokens.body["id_token"].is_string(), "{}", tokens.text);
    spec.check("token", &tokens);
    let with_openid = tokens.body["access_token"].as_str().unwrap().to_owned();
    let without_openid = app.client_token(&bound).await;
    for (method, token, status) in [
        (Method::GET, Some(with_openid.as_str()), 200),
        (Method::POST, Some(with_openid.as_str()), 200),
        (Method::GET, None, 401),
        (Method::GET, Some("not-a-token"), 401),
        (Method::GET, Some(without_openid.as_str()), 403),
    ] {
        let reply = match token {
            Some(token) => app.bearer(method, "/userinfo", token).await,
            None => app.request(method, "/userinfo", None, None).await,
        };
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("userinfo", &reply);
    }
    for (form, basic, status) in [
        (vec![("token", with_openid.as_str())], basic, 200),
        (vec![("token", "unknown")], basic, 200),
        (vec![], basic, 400),
        (
            vec![("token", with_openid.as_str())],
            Some((bound.client_id.as_str(), "wrong")),
            401,
        ),
    ] {
        let reply = app.introspect_request(&form, basic).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("introspectToken", &reply);
    }

    // Revocation: a real token, an unknown one, and the refusals.
    let client_id = public.client_id.as_str();
    for token in [rotated.as_str(), "unknown-token"] {
        let reply = app
            .revoke_request(&[("token", token), ("client_id", client_id)], None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        spec.check("revokeToken", &reply);
    }
    let reply = app.revoke_request(&[("client_id", client_id)], None).await;
    assert_oauth_error(&reply, 400, "invalid_request");
    spec.check("revokeToken", &reply);
    let reply = app
        .revoke_request(&[("token", "t")], Some((bound.client_id.as_str(), "wrong")))
        .await;
    assert_oauth_error(&reply, 401, "invalid_client");
    spec.check("revokeToken", &reply);

    // The authorize page: shown, an error sent back to the client, an error page.
    let request = AuthRequest::for_client(&public);
    let reply = app
        .request(
            Method::GET,
            &format!("/oauth/authorize?{}", request.query()),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("authorize", &reply);
    let query = request
        .query()
        .replace("response_type=code", "response_type=token");
    let reply = app
        .request(
            Method::GET,
            &format!("/oauth/authorize?{query}"),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    spec.check("authorize", &reply);
    let query = request.query().replace(&public.client_id, "unknown-client");
    let reply = app
        .request(
            Method::GET,
            &format!("/oauth/authorize?{query}"),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    spec.check("authorize", &reply);
}

/// The invitation page, in each state it documents.
async fn pages(app: &TestApp, spec: &mut Conformance, org: &TestOrg) {
    let key = org.key.as_str();
    let (pending, pending_uuid) = app
        .invite_with_uuid(key, "page@example.test", "MEMBER")
        .await;
    let (revoked, revoked_uuid) = app
        .invite_with_uuid(key, "gone@example.test", "MEMBER")
        .await;
    app.revoke(key, revoked).await;
    let (expired, expired_uuid) = app
        .invite_with_uuid(key, "late@example.test", "MEMBER")
        .await;
    app.expire_in_place(expired);
    let (_, accepted_uuid) = app
        .invite_with_uuid(key, "done@example.test", "MEMBER")
        .await;
    app.execute(&format!(
        "UPDATE invitations SET status = 'ACCEPTED' WHERE uuid = '{accepted_uuid}'"
    ));
    let _ = pending;
    for (uuid, status) in [
        (pending_uuid.as_str(), 200),
        (uuid::Uuid::new_v4().to_string().as_str(), 404),
        ("not-a-uuid", 404),
        (accepted_uuid.as_str(), 409),
        (revoked_uuid.as_str(), 410),
        (expired_uuid.as_str(), 410),
    ] {
        let reply = app
            .request(Method::GET, &format!("/invite/{uuid}"), None, None)
            .await;
        assert_eq!(reply.status, status, "{uuid}: {}", reply.text);
        spec.check("invitationPage", &reply);
    }
    let link = |body: Value| async move {
        let reply = app.post("/v1/organization/join-links", key, &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let url = reply.body["url"].as_str().unwrap().to_owned();
        (
            reply.body["id"].as_i64().unwrap(),
            url.rsplit('/').next().unwrap().to_owned(),
        )
    };
    let (_, open) = link(json!({ "maxUses": 2, "expiresIn": "1h" })).await;
    let (revoked, closed) = link(json!({ "maxUses": 2, "expiresIn": "1h" })).await;
    app.request(
        Method::POST,
        &format!("/v1/organization/join-links/{revoked}/revoke"),
        Some(key),
        None,
    )
    .await;
    for (token, status) in [
        (open.as_str(), 200),
        ("unknown", 404),
        (closed.as_str(), 410),
    ] {
        let reply = app
            .request(Method::GET, &format!("/join/{token}"), None, None)
            .await;
        assert_eq!(reply.status, status, "{token}: {}", reply.text);
        spec.check("joinPage", &reply);
    }
}

/// Health, readiness and metrics.
async fn operations_endpoints(app: &TestApp, spec: &mut Conformance) {
    for (id, path) in [
        ("health", "/healthz"),
        ("ready", "/readyz"),
        ("metrics", "/metrics"),
    ] {
        let reply = app.request(Method::GET, path, None, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        spec.check(id, &reply);
    }
}

/// The validation is strict: an undocumented field, a missing one, a wrong
/// type or a malformed timestamp in a real body each fail it.
async fn strictness(app: &TestApp, spec: &mut Conformance) {
    let org = app.create_org("strict", "admin@strict.test");
    let reply = app.get("/v1/organization", &org.key).await;
    let body = reply.body;
    assert!(spec.errors("getOrganization", "200", &body).is_empty());
    let mut extra = body.clone();
    extra["secret"] = json!("leak");
    let mut missing = body.clone();
    missing.as_object_mut().unwrap().remove("memberCount");
    let mut mistyped = body.clone();
    mistyped["id"] = json!("1");
    let mut malformed = body.clone();
    malformed["createdAt"] = json!("yesterday");

    for (what, bad) in [
        ("an extra field", &extra),
        ("a missing field", &missing),
        ("a mistyped field", &mistyped),
        ("a malformed timestamp", &malformed),
    ] {
        assert!(
            !spec.errors("getOrganization", "200", bad).is_empty(),
            "{what} passes: {bad}"
        );
    }
    // An undocumented field inside a referenced item schema fails too.
    let mut users = app.get("/v1/organization/users", &org.key).await.body;
    assert!(spec.errors("listUsers", "200", &users).is_empty());
    users["items"][0]["password"] = json!("hunter2");
    assert!(!spec.errors("listUsers", "200", &users).is_empty());
}

/// The roles endpoints and the permission check, each documented answer.
async fn roles(app: &TestApp, spec: &mut Conformance) {
    let org = app.create_org("roles", "admin@roles.test");
    let key = &org.key;
    let roles = "/v1/organization/roles";
    let body = json!({ "key": "billing", "name": "Billing", "permissions": ["invoices:read"] });
    let created = app.post(roles, key, &body).await;
    assert_eq!(created.status, 200, "{}", created.text);
    spec.check("createRole", &created);
    let bad = app
        .post(
            roles,
            key,
            &json!({ "key": "ADMIN", "name": "x", "permissions": [] }),
        )
        .await;
    bad.assert_problem(400, "validation_failed");
    spec.check("createRole", &bad);
    let taken = app.post(roles, key, &body).await;
    taken.assert_problem(409, "role_exists");
    spec.check("createRole", &taken);
    for (path, status) in [(roles.to_owned(), 200), (format!("{roles}?limit=0"), 400)] {
        let reply = app.get(&path, key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("listRoles", &reply);
    }
    for (target, status) in [("billing", 200), ("ADMIN", 200), ("ghost", 404)] {
        let reply = app.get(&format!("{roles}/{target}"), key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("getRole", &reply);
    }
    for (target, body, status) in [
        ("billing", json!({ "description": "Pays" }), 200),
        ("billing", json!({ "permissions": ["NO"] }), 400),
        ("ghost", json!({ "name": "x" }), 404),
        ("ADMIN", json!({ "name": "x" }), 409),
    ] {
        let path = format!("{roles}/{target}");
        let reply = app
            .request(Method::PATCH, &path, Some(key), Some(&body))
            .await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("updateRole", &reply);
    }
    let member = app.add_member(org.id, "carol@roles.test", "billing");
    let check = "/v1/organization/permissions/check";
    for (user, permissions, status) in [
        (member, json!(["invoices:read"]), 200),
        (member, json!(["BAD"]), 400),
        (999_999, json!(["x"]), 404),
    ] {
        let body = json!({ "userId": user, "permissions": permissions });
        let reply = app.post(check, key, &body).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("checkPermissions", &reply);
    }
    let in_use = app.delete(&format!("{roles}/billing"), key).await;
    in_use.assert_problem(409, "role_in_use");
    spec.check("deleteRole", &in_use);
    let malformed_retry = app
        .send_raw(
            Method::DELETE,
            &format!("{roles}/billing"),
            &[("X-API-Key", key.as_str()), ("Idempotency-Key", "")],
            "",
        )
        .await;
    malformed_retry.assert_problem(400, "validation_failed");
    spec.check("deleteRole", &malformed_retry);
    assert_eq!(app.remove_user(key, member).await.status, 200);
    for (target, status) in [("billing", 200), ("billing", 404)] {
        let reply = app.delete(&format!("{roles}/{target}"), key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("deleteRole", &reply);
    }
}

/// The teams endpoints and the users list's team filter, each documented answer.
async fn teams(app: &TestApp, spec: &mut Conformance) {
    let org = app.create_org("teams", "admin@teams.test");
    let key = &org.key;
    let teams = "/v1/organization/teams";
    let created = app
        .post(
            teams,
            key,
            &json!({ "name": "Billing", "description": "Pays" }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    spec.check("createTeam", &created);
    let team = created.body["id"].as_i64().unwrap();
    let bare = app.post(teams, key, &json!({ "name": "Bare" })).await;
    spec.check("createTeam", &bare);
    let other = bare.body["id"].as_i64().unwrap();
    let bad = app.post(teams, key, &json!({ "name": "" })).await;
    bad.assert_problem(400, "validation_failed");
    spec.check("createTeam", &bad);
    let taken = app.post(teams, key, &json!({ "name": "billing" })).await;
    taken.assert_problem(409, "team_name_taken");
    spec.check("createTeam", &taken);
    for (path, status) in [(teams.to_owned(), 200), (format!("{teams}?limit=0"), 400)] {
        let reply = app.get(&path, key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("listTeams", &reply);
    }
    for (target, status) in [
        (team.to_string(), 200),
        ("x".into(), 400),
        ("999999".into(), 404),
    ] {
        let reply = app.get(&format!("{teams}/{target}"), key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("getTeam", &reply);
    }
    for (target, body, status) in [
        (
            team.to_string(),
            json!({ "description": "Pays the bills" }),
            200,
        ),
        (team.to_string(), json!({ "name": "" }), 400),
        ("999999".to_owned(), json!({ "name": "x" }), 404),
        (other.to_string(), json!({ "name": "BILLING" }), 409),
    ] {
        let path = format!("{teams}/{target}");
        let reply = app
            .request(Method::PATCH, &path, Some(key), Some(&body))
            .await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("updateTeam", &reply);
    }
    let member = app.add_member(org.id, "carol@teams.test", "MEMBER");
    for (path, status) in [
        (format!("{teams}/{team}/members/{member}"), 200),
        (format!("{teams}/{team}/members/{member}"), 200),
        (format!("{teams}/{team}/members/zero"), 400),
        (format!("{teams}/999999/members/{member}"), 404),
    ] {
        let reply = app.request(Method::PUT, &path, Some(key), None).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        spec.check("addTeamMember", &reply);
    }
    for (path, status) in [
        (format!("{teams}/{team}/members"), 200),
        (format!("{teams}/{team}/members?limit=0"), 400),
        (format!("{teams}/999999/members"), 404),
    ] {
        let reply = app.get(&path, key).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        spec.check("listTeamMembers", &reply);
    }
    for (path, status) in [
        (format!("/v1/organization/users?teamId={team}"), 200),
        ("/v1/organization/users?teamId=-1".to_owned(), 400),
        ("/v1/organization/users?teamId=999999".to_owned(), 404),
    ] {
        let reply = app.get(&path, key).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        spec.check("listUsers", &reply);
    }
    let invited = app
        .post(
            "/v1/organization/invitations",
            key,
            &json!({ "inviteeEmail": "dan@teams.test", "role": "MEMBER", "teamIds": [team] }),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    spec.check("inviteUser", &invited);
    let link = app
        .post(
            "/v1/organization/join-links",
            key,
            &json!({ "maxUses": 1, "expiresIn": "1d", "teamIds": [team] }),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    spec.check("createJoinLink", &link);
    for (path, status) in [
        (format!("{teams}/{team}/members/{member}"), 200),
        (format!("{teams}/{team}/members/{member}"), 404),
        (format!("{teams}/{team}/members/x"), 400),
    ] {
        let reply = app.delete(&path, key).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        spec.check("removeTeamMember", &reply);
    }
    for (target, status) in [
        (team.to_string(), 200),
        (team.to_string(), 404),
        ("x".into(), 400),
    ] {
        let reply = app.delete(&format!("{teams}/{target}"), key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("deleteTeam", &reply);
    }
}

/// The domains endpoints, each documented answer, against a real DNS
/// server on 127.0.0.1.
async fn domains(app: &TestApp, spec: &mut Conformance, dns: &crate::dns_server::DnsServer) {
    let org = app.create_org("domains", "admin@domains.test");
    let other = app.create_org("rival", "admin@rival.test");
    let key = &org.key;
    let domains = "/v1/organization/domains";
    let created = app
        .post(
            domains,
            key,
            &json!({ "domain": "domains.test", "mode": "auto_join" }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    spec.check("createDomain", &created);
    let id = created.body["id"].as_i64().unwrap();
    let rival = app
        .post(
            domains,
            &other.key,
            &json!({ "domain": "domains.test", "mode": "suggest" }),
        )
        .await;
    assert_eq!(rival.status, 200, "{}", rival.text);
    for (body, status) in [
        (json!({ "domain": "co.uk", "mode": "suggest" }), 400),
        (json!({ "domain": "DOMAINS.test", "mode": "suggest" }), 409),
    ] {
        let reply = app.post(domains, key, &body).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("createDomain", &reply);
    }
    let narrow = app.api_key(org.id, org.admin_id, &[Scope::DomainsWrite]);
    let reply = app
        .post(
            domains,
            &narrow,
            &json!({ "domain": "x.test", "mode": "auto_join", "role": "ADMIN" }),
        )
        .await;
    reply.assert_problem(403, "missing_scope");
    spec.check("createDomain", &reply);
    let verify = |id: String| format!("{domains}/{id}/verify");
    for (target, status) in [
        (id.to_string(), 409),
        ("x".into(), 400),
        ("999999".into(), 404),
    ] {
        let reply = app.post(&verify(target), key, &json!({})).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("verifyDomain", &reply);
    }
    dns.add_txt(
        created.body["verification"]["name"].as_str().unwrap(),
        created.body["verification"]["value"].as_str().unwrap(),
    );
    let reply = app.post(&verify(id.to_string()), key, &json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    spec.check("verifyDomain", &reply);
    dns.add_txt(
        rival.body["verification"]["name"].as_str().unwrap(),
        rival.body["verification"]["value"].as_str().unwrap(),
    );
    let reply = app
        .post(
            &verify(rival.body["id"].to_string()),
            &other.key,
            &json!({}),
        )
        .await;
    reply.assert_problem(409, "domain_taken");
    spec.check("verifyDomain", &reply);
    for (path, status) in [
        (domains.to_owned(), 200),
        (format!("{domains}?limit=0"), 400),
    ] {
        let reply = app.get(&path, key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("listDomains", &reply);
    }
    for (target, status) in [
        (id.to_string(), 200),
        ("x".into(), 400),
        ("999999".into(), 404),
    ] {
        let reply = app.get(&format!("{domains}/{target}"), key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("getDomain", &reply);
    }
    for (target, status) in [
        (id.to_string(), 200),
        (id.to_string(), 404),
        ("x".into(), 400),
    ] {
        let reply = app.delete(&format!("{domains}/{target}"), key).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        spec.check("deleteDomain", &reply);
    }
}

#[tokio::test]
async fn real_responses_of_every_operation_match_the_document() {
    let dns = crate::dns_server::DnsServer::start().await;
    let resolver = dns.addr;
    let app = spawn_app_with(move |s| s.domains.resolver = Some(resolver)).await;
    let mut spec = Conformance::new(&fetch_document(&app).await);
    strictness(&app, &mut spec).await;
    let (org, accepted) = admin_api(&app, &mut spec).await;
    events_and_webhooks(&app, &mut spec, &org).await;
    roles(&app, &mut spec).await;
    teams(&app, &mut spec).await;
    domains(&app, &mut spec, &dns).await;
    invitee_api(&app, &mut spec, &org, accepted).await;
    self_serve(&mut spec).await;
    oauth(&app, &mut spec).await;
    pages(&app, &mut spec, &org).await;
    operations_endpoints(&app, &mut spec).await;
    limits_and_retries(&mut spec).await;
    spec.assert_complete();
    eprintln!(
        "checked {} responses: {} operations, {} documented (operation, status) pairs",
        spec.responses,
        spec.operations.len(),
        spec.covered.len()
    );
}
