//! A body trickled in slower than `server.body_timeout` is cut off with 408,
//! whatever the head's timeout; bodies that arrive in time are served.

use crate::helpers::*;
use enlist::config::HumanDuration;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn one_second_bodies(settings: &mut enlist::config::Settings) {
    settings.server.body_timeout = HumanDuration(Duration::from_secs(1));
}

/// Sends `head` (which announces a longer body than it carries), then one
/// byte every 300 ms, and reads the answer; gives up after 5 s.
async fn trickle(app: &TestApp, head: String) -> (String, Duration) {
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    let give_up = started + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < give_up, "no answer within 5 s: {answer:?}");
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buffer[..n]);
                    if complete(&answer) {
                        break;
                    }
                }
            },
            () = tokio::time::sleep(Duration::from_millis(300)) => {
                // The server may have stopped reading; that is its right.
                let _ = stream.write_all(b" ").await;
            }
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// A whole response: head and as many body bytes as its Content-Length says.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(usize::MAX);
    body.len() >= length
}

#[tokio::test]
async fn a_trickled_json_body_answers_408_problem_details() {
    let app = spawn_app_with(one_second_bodies).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let head = format!(
        "POST /v1/organization/invitations HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        org.key
    );

    let (answer, took) = trickle(&app, head).await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "answered after {took:?}"
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["status"], 408, "{body}");
    assert_eq!(body["code"], "request_timeout", "{body}");
    assert_eq!(body["type"], "urn:enlist:problem:request_timeout", "{body}");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
}

#[tokio::test]
async fn a_trickled_form_answers_an_html_408_page() {
    let app = spawn_app_with(one_second_bodies).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let uuid = app.invitation_uuid(id);
    let head = format!(
        "POST /invite/{uuid}/respond HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\nc"
    );

    let (answer, took) = trickle(&app, head).await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert!(body.contains("took too long"), "{body}");
    assert_eq!(app.stored_status(id), "PENDING");
}

#[tokio::test]
async fn bodies_that_arrive_in_time_are_served() {
    let app = spawn_app_with(one_second_bodies).await;
    let org = app.create_org("Acme", "ada@acme.test");

    let created = app.invite(&org.key, "bob@example.com", "MEMBER").await;
    assert_eq!(created.status, 200, "{}", created.text);

    // Chunked, in two parts sent 300 ms apart: slower than one packet,
    // well within the deadline.
    let body = r#"{"inviteeEmail":"carol@example.com","role":"MEMBER"}"#;
    let (first, second) = body.split_at(20);
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/organization/invitations HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        org.key,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(second.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("carol@example.com"), "{answer}");
}
