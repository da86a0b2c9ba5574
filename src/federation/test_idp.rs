//! A real HTTP/1.1 server on 127.0.0.1 for the federation tests: canned
//! answers per path, changeable while it runs, and a count of the requests
//! each path received. It speaks just enough HTTP for reqwest (one request
//! per connection) and can misbehave on purpose: answer without a length,
//! redirect anywhere, or never answer. It keeps each request it received
//! (head and body), for tests of what a client sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// A status and a JSON body, with its Content-Length.
    Sized { status: u16, body: String },
    /// 200 and a body with no Content-Length: read until the connection closes.
    Unsized(String),
    /// 302 to this Location.
    Redirect(String),
    /// Reads the request and never answers.
    Hang,
}

impl Reply {
    pub(crate) fn json(body: &str) -> Self {
        Self::status(200, body)
    }

    pub(crate) fn status(status: u16, body: &str) -> Self {
        Self::Sized {
            status,
            body: body.to_owned(),
        }
    }

    pub(crate) fn without_length(body: &str) -> Self {
        Self::Unsized(body.to_owned())
    }

    pub(crate) fn redirect(location: &str) -> Self {
        Self::Redirect(location.to_owned())
    }
}

/// A request as received: its head (request line and headers) and body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) head: String,
    pub(crate) body: String,
}

impl Received {
    /// A header's value (name case-insensitive), if sent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.head, name)
    }

    /// The body's form fields (`application/x-www-form-urlencoded`).
    pub(crate) fn form(&self) -> HashMap<String, String> {
        serde_urlencoded::from_str(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Routes {
    replies: HashMap<String, Reply>,
    hits: HashMap<String, usize>,
    received: HashMap<String, Vec<Received>>,
}

pub(crate) struct TestServer {
    address: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let routes = Arc::new(Mutex::new(Routes::default()));
        let shared = routes.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self {
            address,
            routes,
            task,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub(crate) fn set(&self, path: &str, reply: Reply) {
        self.routes
            .lock()
            .unwrap()
            .replies
            .insert(path.to_owned(), reply);
    }

    /// How many requests `path` received.
    pub(crate) fn hits(&self, path: &str) -> usize {
        let routes = self.routes.lock().unwrap();
        routes.hits.get(path).copied().unwrap_or(0)
    }

    /// The requests `path` received, oldest first.
    pub(crate) fn received(&self, path: &str) -> Vec<Received> {
        let routes = self.routes.lock().unwrap();
        routes.received.get(path).cloned().unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A header's value in a request head (name case-insensitive).
fn header_in<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

async fn serve(mut stream: TcpStream, routes: Arc<Mutex<Routes>>) {
    let mut request = Vec::new();
    let mut buffer = [0_u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(0)
        + 4;
    let mut body = request.split_off(end);
    let request_head = String::from_utf8_lossy(&request).into_owned();
    let length = header_in(&request_head, "content-length")
        .and_then(|length| length.parse::<usize>().ok())
        .unwrap_or(0);
    while body.len() < length {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&buffer[..n]),
        }
    }
    let target = request_head.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_owned();
    let reply = {
        let mut routes = routes.lock().unwrap();
        *routes.hits.entry(path.clone()).or_default() += 1;
        routes
            .received
            .entry(path.clone())
            .or_default()
            .push(Received {
                head: request_head.clone(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        routes.replies.get(&path).cloned()
    };
    let head = |status: u16, extra: &str| {
        format!("HTTP/1.1 {status} X\r\nConnection: close\r\n{extra}\r\n").into_bytes()
    };
    let answer = match reply {
        None => [head(404, "Content-Length: 0\r\n")].concat(),
        Some(Reply::Sized { status, body }) => [
            head(
                status,
                &format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                ),
            ),
            body.into_bytes(),
        ]
        .concat(),
        Some(Reply::Unsized(body)) => [
            head(200, "Content-Type: application/json\r\n"),
            body.into_bytes(),
        ]
        .concat(),
        Some(Reply::Redirect(location)) => head(
            302,
            &format!("Location: {location}\r\nContent-Length: 0\r\n"),
        ),
        Some(Reply::Hang) => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            return;
        }
    };
    // The client may have gone (a refused redirect, a cut-off body).
    stream.write_all(&answer).await.ok();
    stream.shutdown().await.ok();
}
