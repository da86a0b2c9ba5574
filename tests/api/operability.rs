//! Operability over HTTP, in-process: health and readiness, Prometheus
//! metrics, request ids, request limits and CORS. Signals, logs, backups and
//! a stalled database are in `tests/process/lifecycle.rs`, against the real binary.

use crate::helpers::*;
use enlist::config::{HumanDuration, HumanSize, SmtpTls, TransportKind};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- health

#[tokio::test]
async fn healthz_says_ok_and_readyz_says_ready() {
    let app = spawn_app().await;

    let live = app.request(Method::GET, "/healthz", None, None).await;
    let ready = app.request(Method::GET, "/readyz", None, None).await;

    assert_eq!(live.status, 200, "{}", live.text);
    assert_eq!(live.body, json!({ "status": "ok" }));
    assert!(
        live.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        live.headers
    );
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.body, json!({ "status": "ready" }));
    // Neither needs a key, and neither is cached by anything in between.
    let other = app.request(Method::POST, "/readyz", None, None).await;
    other.assert_problem(405, "method_not_allowed");
    assert_eq!(other.header("allow"), Some("GET"));
}

// ---------------------------------------------------------------- metrics

/// One sample of the Prometheus text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format (no escapes in our label values).
fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {line}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                other => other
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value: {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest
                        .strip_suffix('}')
                        .unwrap_or_else(|| panic!("bad labels: {line}"));
                    let labels = body
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair
                                .split_once("=\"")
                                .unwrap_or_else(|| panic!("bad label {pair:?} in {line}"));
                            (key.to_owned(), value.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            Sample {
                name,
                labels,
                value,
            }
        })
        .collect()
}

/// The samples named `name` whose labels include every pair of `labels`.
fn samples<'a>(all: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    all.iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The value of the one sample named `name` with exactly these labels.
fn value_of(all: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<_> = samples(all, name, labels)
        .into_iter()
        .filter(|s| s.labels.len() == labels.len())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one {name}{labels:?} expected, got {found:?}"
    );
    found[0].value
}

async fn scrape(client: &reqwest::Client, base: &str) -> (String, Vec<Sample>) {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let parsed = parse_metrics(&text);
    (text, parsed)
}

/// Invitations queued for an SMTP server that refuses connections, retried
/// only after an hour: they stay in the outbox backlog while the test runs.
fn undeliverable(settings: &mut enlist::config::Settings) {
    settings.delivery.transport = TransportKind::Smtp;
    settings.delivery.smtp.host = "127.0.0.1".into();
    settings.delivery.smtp.port = Some(1);
    settings.delivery.smtp.tls = SmtpTls::None;
    settings.delivery.smtp.timeout = HumanDuration::secs(2);
    settings.delivery.retry_initial = HumanDuration::secs(3600);
    settings.delivery.retry_max = HumanDuration::secs(3600);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_never_by_raw_path() {
    let app = spawn_app_with(undeliverable).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let first = app.invite_ok(&org.key, "one@example.com", "MEMBER").await;
    let second = app.invite_ok(&org.key, "two@example.com", "MEMBER").await;
    let mut revoke_statuses = Vec::new();
    for id in [first, second, first, 987_654] {
        revoke_statuses.push(app.revoke(&org.key, id).await.status.as_u16());
    }
    let organization = app.get("/v1/organization", &org.key).await;
    assert_eq!(organization.status, 200);
    let unrouted = app
        .request(Method::GET, "/no-such-thing/424242", None, None)
        .await;
    unrouted.assert_problem(404, "not_found");

    let (text, all) = scrape(&app.client, &app.address).await;

    let revoke_route = "/v1/organization/invitations/{id}/revoke";
    let mut expected: BTreeMap<u16, f64> = BTreeMap::new();
    for status in &revoke_statuses {
        *expected.entry(*status).or_default() += 1.0;
    }
    assert!(expected.len() >= 2, "{revoke_statuses:?}");
    for (status, count) in &expected {
        let status = status.to_string();
        assert_eq!(
            value_of(
                &all,
                "enlist_http_requests_total",
                &[
                    ("method", "POST"),
                    ("route", revoke_route),
                    ("status", &status)
                ]
            ),
            *count,
            "{text}"
        );
    }
    assert_eq!(
        value_of(
            &all,
            "enlist_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/v1/organization/invitations"),
                ("status", "200")
            ]
        ),
        2.0
    );
    assert_eq!(
        value_of(
            &all,
            "enlist_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/v1/organization"),
                ("status", "200")
            ]
        ),
        1.0
    );
    // Raw ids and paths never become labels (unbounded cardinality).
    for raw in [
        format!("/invitations/{first}/"),
        format!("/invitations/{second}/"),
        "987654".to_owned(),
        "424242".to_owned(),
    ] {
        assert!(
            !text.contains(&raw),
            "{raw} appears in the metrics:\n{text}"
        );
    }
    let unrouted_samples = samples(
        &all,
        "enlist_http_requests_total",
        &[("method", "GET"), ("status", "404")],
    );
    assert_eq!(unrouted_samples.len(), 1, "{text}");
    assert_eq!(unrouted_samples[0].value, 1.0);

    // The latency histogram: cumulative buckets ending in +Inf, a count and a sum.
    let histogram = [("method", "POST"), ("route", revoke_route)];
    let buckets = samples(
        &all,
        "enlist_http_request_duration_seconds_bucket",
        &histogram,
    );
    assert!(buckets.len() >= 5, "{text}");
    let mut previous = 0.0;
    for bucket in &buckets {
        assert!(bucket.labels.contains_key("le"), "{bucket:?}");
        assert!(bucket.value >= previous, "buckets are cumulative: {text}");
        previous = bucket.value;
    }
    let total = revoke_statuses.len() as f64;
    let infinite = buckets
        .iter()
        .find(|b| b.labels["le"] == "+Inf")
        .unwrap_or_else(|| panic!("no +Inf bucket: {text}"));
    assert_eq!(infinite.value, total);
    assert_eq!(
        value_of(
            &all,
            "enlist_http_request_duration_seconds_count",
            &histogram
        ),
        total
    );
    let sum = value_of(&all, "enlist_http_request_duration_seconds_sum", &histogram);
    assert!(sum > 0.0 && sum < 60.0, "{sum}");

    // Database pools: in use, idle and waiting.
    for (pool, state) in [
        ("read", "in_use"),
        ("read", "idle"),
        ("read", "waiting"),
        ("write", "in_use"),
        ("write", "waiting"),
    ] {
        let value = value_of(
            &all,
            "enlist_db_pool_connections",
            &[("pool", pool), ("state", state)],
        );
        assert!(value >= 0.0, "{pool} {state}: {value}");
    }
    let readers = value_of(
        &all,
        "enlist_db_pool_connections",
        &[("pool", "read"), ("state", "in_use")],
    ) + value_of(
        &all,
        "enlist_db_pool_connections",
        &[("pool", "read"), ("state", "idle")],
    );
    assert!(
        readers >= 1.0 && readers <= f64::from(app.settings.database.pool_size),
        "{text}"
    );
    assert!(
        value_of(
            &all,
            "enlist_db_pool_connections",
            &[("pool", "write"), ("state", "in_use")]
        ) <= 1.0
    );

    // The outbox backlog is what the outbox holds unsent and not given up on.
    let backlog = value_of(&all, "enlist_outbox_backlog", &[]);
    let stored =
        app.query_i64("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL");
    assert!(stored >= 1, "the undeliverable invitations are queued");
    assert_eq!(backlog, stored as f64, "{text}");
}

/// The values each label of `enlist_http_requests_total` takes.
fn label_values(all: &[Sample]) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut values: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for sample in samples(all, "enlist_http_requests_total", &[]) {
        for (label, value) in &sample.labels {
            values
                .entry(label.clone())
                .or_default()
                .insert(value.clone());
        }
    }
    values
}

#[tokio::test]
async fn unknown_methods_answer_501_early_and_add_no_label_value_but_other() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let paths = [
        "/v1/organization/invitations",
        "/v1/organization/users/7",
        "/no-such-thing/424242",
        "/invite/00000000-0000-0000-0000-000000000000",
        "/admin/orgs/x/y/z",
        "/metrics",
    ];
    // Every route is seen once with a real method, so its template is a
    // label value already; the status label already knows 404.
    for path in paths {
        app.request(Method::GET, path, Some(&org.key), None).await;
    }
    let (_, before) = scrape(&app.client, &app.address).await;
    let before = label_values(&before);

    let methods = ["FOO", "BREW", "PROPFIND", "TRACE", "M-SEARCH", "GETX"];
    let body = json!({ "inviteeEmail": "mallory@example.com", "role": "ADMIN" });
    for method in methods {
        for path in paths {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let reply = app
                .request(method.clone(), path, Some(&org.key), Some(&body))
                .await;
            reply.assert_problem(501, "method_not_implemented");
            assert_eq!(
                reply.header("x-content-type-options"),
                Some("nosniff"),
                "{method} {path}"
            );
        }
    }

    // Nothing behind the edge ran: no invitation, no key lookup.
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
    let (text, all) = scrape(&app.client, &app.address).await;
    let after = label_values(&all);
    let added =
        |label: &str| -> Vec<String> { after[label].difference(&before[label]).cloned().collect() };
    assert_eq!(added("method"), ["OTHER"], "{text}");
    assert_eq!(added("status"), ["501"], "{text}");
    assert_eq!(added("route"), Vec::<String>::new(), "{text}");
    for method in methods {
        assert!(
            !text.contains(&format!("\"{method}\"")),
            "{method} is a label value:\n{text}"
        );
    }
    let other: f64 = samples(&all, "enlist_http_requests_total", &[("method", "OTHER")])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(other, (methods.len() * paths.len()) as f64, "{text}");
    // A known method a route does not take is still that route's 405.
    let put = app
        .request(
            Method::PUT,
            "/v1/organization/invitations",
            Some(&org.key),
            None,
        )
        .await;
    put.assert_problem(405, "method_not_allowed");
    assert_eq!(put.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn the_outbox_backlog_drops_when_messages_are_sent() {
    let app = spawn_app_without_loops(|_| {}).await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.invite_ok(&org.key, "one@example.com", "MEMBER").await;
    let (text, all) = scrape(&app.client, &app.address).await;
    assert_eq!(value_of(&all, "enlist_outbox_backlog", &[]), 1.0, "{text}");

    assert_eq!(app.run_outbox_once().await, 1);

    let (text, all) = scrape(&app.client, &app.address).await;
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL"),
        1
    );
    assert_eq!(value_of(&all, "enlist_outbox_backlog", &[]), 0.0, "{text}");
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_app_with(|s| s.metrics.enabled = false).await;

    let reply = app.request(Method::GET, "/metrics", None, None).await;

    reply.assert_problem(404, "not_found");
    assert!(!reply.text.contains("enlist_http"), "{}", reply.text);
}

#[tokio::test]
async fn metrics_on_their_own_address_are_not_served_on_the_main_one() {
    let (app, metrics_addr) =
        spawn_app_with_metrics_addr(|s| s.metrics.bind = Some("127.0.0.1:0".into())).await;
    let metrics_addr = metrics_addr.expect("metrics.bind gives /metrics its own address");
    assert_ne!(format!("http://{metrics_addr}"), app.address);

    let on_main = app.request(Method::GET, "/metrics", None, None).await;
    on_main.assert_problem(404, "not_found");
    let ready = app.request(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 200);

    let (text, all) = scrape(&app.client, &format!("http://{metrics_addr}")).await;
    // Requests to the main address are what it counts.
    assert_eq!(
        value_of(
            &all,
            "enlist_http_requests_total",
            &[("method", "GET"), ("route", "/readyz"), ("status", "200")]
        ),
        1.0,
        "{text}"
    );
    let (_, again) = scrape(&app.client, &format!("http://{metrics_addr}")).await;
    assert!(
        samples(
            &again,
            "enlist_http_requests_total",
            &[("route", "/metrics")]
        )
        .is_empty(),
        "scrapes of the metrics address are not application requests"
    );
    assert!(!samples(&again, "enlist_outbox_backlog", &[]).is_empty());
    // Only /metrics is served there.
    let elsewhere = app
        .client
        .get(format!("http://{metrics_addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
}

// ---------------------------------------------------------------- request ids

async fn request_id_for(app: &TestApp, path: &str, sent: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(sent) = sent {
        request = request.header("X-Request-Id", sent);
    }
    let response = request.send().await.unwrap();
    let id = response
        .headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {path}"))
        .to_str()
        .unwrap()
        .to_owned();
    (response.status().as_u16(), id)
}

fn assert_generated(id: &str) {
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "a generated id is expected, got {id:?}"
    );
}

#[tokio::test]
async fn a_plain_incoming_request_id_is_echoed_and_others_are_replaced() {
    let app = spawn_app().await;

    let (_, kept) = request_id_for(&app, "/healthz", Some("abc-123")).await;
    assert_eq!(kept, "abc-123");
    let longest = format!("._-{}", "a1B".repeat(42))
        .chars()
        .take(128)
        .collect::<String>();
    assert_eq!(longest.len(), 128);
    let (_, kept) = request_id_for(&app, "/healthz", Some(&longest)).await;
    assert_eq!(kept, longest);
    // On errors too.
    let (status, kept) = request_id_for(&app, "/nowhere", Some("trace.42_x")).await;
    assert_eq!((status, kept.as_str()), (404, "trace.42_x"));

    for bad in [
        "a".repeat(129),
        "a".repeat(200),
        "has space".to_owned(),
        "semi;colon".to_owned(),
        "quote\"d".to_owned(),
        String::new(),
    ] {
        let (_, replaced) = request_id_for(&app, "/healthz", Some(&bad)).await;
        assert_ne!(replaced, bad);
        assert_generated(&replaced);
    }

    let (_, one) = request_id_for(&app, "/readyz", None).await;
    let (_, two) = request_id_for(&app, "/readyz", None).await;
    assert_generated(&one);
    assert_generated(&two);
    assert_ne!(one, two);
}

// ---------------------------------------------------------------- limits

#[tokio::test]
async fn a_json_body_over_the_limit_answers_413_and_changes_nothing() {
    let app = spawn_app_with(|s| s.server.json_body_limit = HumanSize(1024)).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let big = json!({
        "inviteeEmail": "big@example.com",
        "role": "MEMBER",
        "padding": "x".repeat(2000),
    });

    let reply = app
        .post("/v1/organization/invitations", &org.key, &big)
        .await;

    reply.assert_problem(413, "payload_too_large");
    assert!(
        reply.body["detail"].as_str().unwrap().contains("1024"),
        "{}",
        reply.text
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);

    // Without a Content-Length the limit holds all the same.
    let body = big.to_string();
    let chunked = format!(
        "POST /v1/organization/invitations HTTP/1.1\r\nHost: localhost\r\n\
         X-API-Key: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        org.key,
        body.len()
    );
    let (status, text) = app.send_raw_http(chunked).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);

    // A body within the limit is served as usual.
    let small = app.invite(&org.key, "small@example.com", "MEMBER").await;
    assert_eq!(small.status, 200, "{}", small.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);
}

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads one response (head and Content-Length body) from `stream`.
fn read_one_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(n, 1, "closed before the end of the head: {received:?}");
        received.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&received).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}

/// Reads until the server closes the connection (or `limit` passes):
/// answers what was read and how long that took.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    stream.set_read_timeout(Some(limit)).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    (
        String::from_utf8_lossy(&rest).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_client_that_sends_part_of_the_request_head_is_cut_off() {
    let app = spawn_app_with(|s| {
        s.server.request_timeout = HumanDuration::secs(1);
        s.server.keep_alive = HumanDuration::secs(30);
    })
    .await;
    let addr = host_port(&app);

    let (answer, elapsed) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .unwrap();
        read_until_closed(&mut stream, Duration::from_secs(10))
    })
    .await
    .unwrap();

    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(3),
        "cut off after {elapsed:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer:?}"
    );
    // The server is none the worse for it.
    let live = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(live.status, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_keep_alive() {
    let app = spawn_app_with(|s| {
        s.server.keep_alive = HumanDuration::secs(2);
        s.server.request_timeout = HumanDuration::secs(30);
    })
    .await;
    let addr = host_port(&app);

    let (first, rest, idle) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let first = read_one_response(&mut stream);
        let (rest, idle) = read_until_closed(&mut stream, Duration::from_secs(10));
        (first, rest, idle)
    })
    .await
    .unwrap();

    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.ends_with(r#"{"status":"ok"}"#), "{first}");
    assert!(rest.is_empty(), "nothing more is sent: {rest:?}");
    // actix-web times keep-alive from its cached clock, which ticks every
    // 500 ms: the close comes up to half a second before the setting, never
    // long after it.
    assert!(
        idle >= Duration::from_millis(1400) && idle < Duration::from_secs(4),
        "closed after {idle:?} idle"
    );
}

// ---------------------------------------------------------------- CORS

const ORIGIN: &str = "https://app.example.com";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(
            Method::OPTIONS,
            format!("{}/v1/organization/invitations", app.address),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-api-key, content-type")
        .send()
        .await
        .unwrap()
}

fn header_of<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn lowercase_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let answer = preflight(&app, ORIGIN).await;
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        answer.headers()
    );
    assert!(answer.status() != 200 && answer.status() != 204);

    let get = app
        .client
        .get(format!("{}/v1/organization", app.address))
        .header("Origin", ORIGIN)
        .header("X-API-Key", &org.key)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert!(
        get.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        get.headers()
    );
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![ORIGIN.into()]).await;
    let org = app.create_org("Acme", "ada@acme.test");

    let allowed = preflight(&app, ORIGIN).await;
    assert!(
        allowed.status().is_success(),
        "{} {:?}",
        allowed.status(),
        allowed.headers()
    );
    assert_eq!(
        header_of(&allowed, "access-control-allow-origin"),
        Some(ORIGIN)
    );
    let headers = lowercase_list(header_of(&allowed, "access-control-allow-headers"));
    assert!(
        headers.contains(&"x-api-key".to_owned()) && headers.contains(&"content-type".to_owned()),
        "{headers:?}"
    );
    let methods = lowercase_list(header_of(&allowed, "access-control-allow-methods"));
    assert!(methods.contains(&"post".to_owned()), "{methods:?}");
    assert_eq!(header_of(&allowed, "access-control-max-age"), Some("3600"));
    // The preflight itself created nothing.
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);

    let get = app
        .client
        .get(format!("{}/v1/organization", app.address))
        .header("Origin", ORIGIN)
        .header("X-API-Key", &org.key)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(header_of(&get, "access-control-allow-origin"), Some(ORIGIN));
    let exposed = lowercase_list(header_of(&get, "access-control-expose-headers"));
    assert!(exposed.contains(&"x-request-id".to_owned()), "{exposed:?}");
    let body: serde_json::Value = get.json().await.unwrap();
    assert_eq!(body["id"], org.id);

    // Another origin is refused: no allow-origin, so a browser blocks it.
    let refused = preflight(&app, "https://evil.example.com").await;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        refused.headers()
    );
    assert!(!refused.status().is_success(), "{}", refused.status());
    let other = app
        .client
        .get(format!("{}/v1/organization", app.address))
        .header("Origin", "https://evil.example.com")
        .header("X-API-Key", &org.key)
        .send()
        .await
        .unwrap();
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        other.headers()
    );
}

// ---------------------------------------------------------------- the root page and the docs

#[tokio::test]
async fn the_root_names_the_service_its_version_and_where_the_api_is_described() {
    let app = spawn_app().await;

    let reply = app.request(Method::GET, "/", None, None).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(reply.header("content-security-policy").is_some());
    assert!(reply.text.contains("<h1>enlist</h1>"), "{}", reply.text);
    assert!(
        reply
            .text
            .contains(&format!("Version {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        reply.text
    );
    assert!(reply.text.contains(r#"href="/docs/""#), "{}", reply.text);
    assert!(
        reply.text.contains(r#"href="/openapi.json""#),
        "{}",
        reply.text
    );
    for path in ["/docs/", "/openapi.json"] {
        let linked = app.request(Method::GET, path, None, None).await;
        assert_eq!(linked.status, 200, "{path}");
    }
    let post = app.request(Method::POST, "/", None, None).await;
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn swagger_ui_never_calls_an_outside_validator() {
    let app = spawn_app().await;

    let initializer = app
        .request(Method::GET, "/docs/swagger-initializer.js", None, None)
        .await;

    assert_eq!(initializer.status, 200);
    assert!(
        initializer.text.contains(r#""validatorUrl": "none""#),
        "{}",
        initializer.text
    );
    assert!(
        initializer.text.contains("/openapi.json"),
        "{}",
        initializer.text
    );
}

// ---------------------------------------------------------------- writes

#[tokio::test]
async fn a_write_held_up_past_the_write_timeout_answers_503_and_never_runs() {
    if crate::test_postgres::skip_sqlite_only("the group-commit writer's queue") {
        return;
    }
    let app = spawn_app_with(|s| {
        s.database.write_timeout = HumanDuration(Duration::from_millis(300));
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    // Another process (a CLI command, a backup) holds the write lock.
    let other = rusqlite::Connection::open(&app.db_path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let reply = app.invite(&org.key, "bob@example.com", "MEMBER").await;

    reply.assert_problem(503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    other.execute_batch("COMMIT").unwrap();
    // The writer gets the lock now; the write that timed out is skipped,
    // and the next one goes through.
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM invitations WHERE invitee_email = 'bob@example.com'"),
        0
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 1);
}
