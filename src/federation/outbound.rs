//! The one way enlist fetches from an identity provider: discovery
//! documents, key sets, and (through openidconnect's HTTP client closures,
//! whose types [`Outbound::execute`] takes) token and userinfo requests.
//!
//! What comes back is read by code that decides who may sign in, so every
//! fetch is bounded: by time (connect and the whole answer), by size (the
//! body is counted as it arrives, whatever Content-Length says), and by
//! place. Only https leaves the machine (plain http reaches loopback
//! hosts only, for a provider running beside enlist and for tests), and a
//! redirect never leads to another origin: a provider's documents live at
//! its own origin, and a redirect elsewhere is how a fetch is steered
//! somewhere it was never meant to go.

use serde::de::DeserializeOwned;
use std::time::Duration;
use url::{Host, Url};

/// How many same-origin redirects one fetch follows (a provider moving a
/// document behind a trailing slash or a versioned path).
pub const MAX_REDIRECTS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    /// From the start of connecting to the last byte of the answer.
    pub timeout: Duration,
    /// The most of an answer's body read; past it the fetch fails.
    pub max_body_bytes: usize,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            // A discovery document or a key set is a few KiB; this leaves
            // room for a provider that publishes many keys.
            max_body_bytes: 256 * 1024,
        }
    }
}

/// Why a fetch failed. The messages name no URL (one may carry a query
/// with a token in it) and no body, so they are safe to log and to show
/// in configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("no complete answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("redirected to another origin ({0}); redirects stay at the same origin")]
    RedirectedElsewhere(String),
    #[error("redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects,
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("the answer is not JSON of the expected shape: {0}")]
    NotJson(String),
    #[error("refused to fetch: {0}")]
    Refused(String),
    #[error("the request failed: {0}")]
    Transport(String),
}

/// An HTTP client for identity providers, with [`OutboundLimits`].
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    limits: OutboundLimits,
}

/// Why the redirect policy stopped a redirect, found again in the
/// client's error to tell the two apart.
#[derive(Debug, thiserror::Error)]
enum RedirectRefusal {
    #[error("redirected to another origin")]
    Elsewhere(String),
    #[error("too many redirects")]
    TooMany,
}

fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        // `previous` starts with the URL first asked for.
        let previous = attempt.previous();
        let same_origin = previous
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            let origin = attempt.url().origin().ascii_serialization();
            return attempt.error(RedirectRefusal::Elsewhere(origin));
        }
        if previous.len() > MAX_REDIRECTS {
            return attempt.error(RedirectRefusal::TooMany);
        }
        attempt.follow()
    })
}

impl Outbound {
    pub fn new(limits: OutboundLimits) -> Result<Self, String> {
        // Proxies named in the environment (HTTPS_PROXY, NO_PROXY) are
        // used: a provider is usually on the internet, and a host that
        // reaches the internet only through a proxy must still reach it.
        let client = reqwest::Client::builder()
            .redirect(redirect_policy())
            .connect_timeout(limits.timeout)
            .timeout(limits.timeout)
            .user_agent(concat!("enlist/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the identity-provider HTTP client: {e}"))?;
        Ok(Self { client, limits })
    }

    /// Sends a request and answers whatever status came back (a token
    /// endpoint's 400 carries the error its caller must read).
    pub async fn execute(
        &self,
        request: ::http::Request<Vec<u8>>,
    ) -> Result<::http::Response<Vec<u8>>, OutboundError> {
        let request = reqwest::Request::try_from(request).map_err(transport)?;
        self.send(request).await
    }

    /// GETs `url` and reads its answer as JSON; anything but a 2xx fails.
    /// The Content-Type is not checked: providers serve key sets as
    /// `application/json`, `application/jwk-set+json`, even `text/plain`,
    /// and the body must parse as `T` all the same.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &Url) -> Result<T, OutboundError> {
        // Checked before the builder sees it: it would move a user name
        // and password out of the URL into a header.
        check_fetch_url(url).map_err(OutboundError::Refused)?;
        let request = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .build()
            .map_err(transport)?;
        let response = self.send(request).await?;
        if !response.status().is_success() {
            return Err(OutboundError::Status(response.status().as_u16()));
        }
        serde_json::from_slice(response.body()).map_err(|e| OutboundError::NotJson(e.to_string()))
    }

    async fn send(
        &self,
        request: reqwest::Request,
    ) -> Result<::http::Response<Vec<u8>>, OutboundError> {
        check_fetch_url(request.url()).map_err(OutboundError::Refused)?;
        // The client's own timeout covers the body too; this one makes the
        // bound hold whatever the client does, reading included.
        tokio::time::timeout(self.limits.timeout, self.fetch(request))
            .await
            .unwrap_or(Err(OutboundError::Timeout(self.limits.timeout)))
    }

    async fn fetch(
        &self,
        request: reqwest::Request,
    ) -> Result<::http::Response<Vec<u8>>, OutboundError> {
        let timeout = self.limits.timeout;
        let max = self.limits.max_body_bytes;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| classify(e, timeout))?;
        if response
            .content_length()
            .is_some_and(|length| length > max as u64)
        {
            return Err(OutboundError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, timeout))? {
            if body.len().saturating_add(chunk.len()) > max {
                return Err(OutboundError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = ::http::Response::new(body);
        *answer.status_mut() = response.status();
        *answer.version_mut() = response.version();
        *answer.headers_mut() = std::mem::take(response.headers_mut());
        Ok(answer)
    }
}

/// Where a fetch may go: https anywhere, plain http to a loopback host
/// only, and never with a user name or password in the URL (credentials
/// travel in headers, where they are not logged with the URL).
pub fn check_fetch_url(url: &Url) -> Result<(), String> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a URL with a user name or password in it is not used".to_owned());
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(
            "plain http is used only for loopback hosts (127.0.0.0/8, [::1], localhost); \
             use https"
                .to_owned(),
        ),
        _ => Err("only https URLs (or http to a loopback host) are fetched".to_owned()),
    }
}

/// Checks an issuer identifier as configured: the rule of
/// [`check_fetch_url`], and none of what OpenID Connect forbids in an
/// issuer (a query or a fragment). Answers it parsed; the issuer itself
/// is compared as the string written, never as this URL re-serialised
/// (which would add a trailing slash to a bare host).
pub fn check_issuer_url(url: &str) -> Result<Url, String> {
    if url.trim() != url {
        return Err("the issuer URL has spaces around it".to_owned());
    }
    let parsed = Url::parse(url).map_err(|e| format!("the issuer is not a URL: {e}"))?;
    check_fetch_url(&parsed)?;
    if parsed.query().is_some() {
        return Err("an issuer URL has no query string".to_owned());
    }
    if parsed.fragment().is_some() {
        return Err("an issuer URL has no fragment (#...)".to_owned());
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(address)) => address.is_loopback(),
        Some(Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

fn transport(error: reqwest::Error) -> OutboundError {
    OutboundError::Transport(describe(error))
}

fn classify(error: reqwest::Error, timeout: Duration) -> OutboundError {
    use std::error::Error as _;
    if error.is_timeout() {
        return OutboundError::Timeout(timeout);
    }
    let mut source = error.source();
    while let Some(cause) = source {
        match cause.downcast_ref::<RedirectRefusal>() {
            Some(RedirectRefusal::Elsewhere(origin)) => {
                return OutboundError::RedirectedElsewhere(origin.clone());
            }
            Some(RedirectRefusal::TooMany) => return OutboundError::TooManyRedirects,
            None => source = cause.source(),
        }
    }
    transport(error)
}

/// The error and its causes, without the URL (see [`OutboundError`]).
fn describe(error: reqwest::Error) -> String {
    use std::error::Error as _;
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::test_idp::{Reply, TestServer};

    fn outbound() -> Outbound {
        Outbound::new(OutboundLimits::default()).unwrap()
    }

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn issuer_urls_are_https_or_loopback_http_without_extras() {
        for good in [
            "https://idp.example.com",
            "https://idp.example.com/",
            "https://idp.example.com/realms/main",
            "https://idp.example.com:8443/tenant/",
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://[::1]:9000/realm",
            "http://localhost:3000",
            "http://LOCALHOST/",
        ] {
            assert!(check_issuer_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://idp.example.com",
            "http://10.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost.example.com/",
            "ftp://idp.example.com/",
            "https://user:secret@idp.example.com/",
            "https://user@idp.example.com/",
            "https://idp.example.com/?tenant=1",
            "https://idp.example.com/#top",
            " https://idp.example.com",
            "idp.example.com",
            "",
        ] {
            assert!(check_issuer_url(bad).is_err(), "{bad}");
        }
        // The sentence names no credentials.
        let why = check_issuer_url("https://user:secret@idp.example.com/").unwrap_err();
        assert!(!why.contains("secret"), "{why}");
        assert!(why.ends_with(|c: char| c.is_alphanumeric() || c == ')'));
    }

    #[tokio::test]
    async fn fetches_json_and_answers_any_status_through_execute() {
        let server = TestServer::start().await;
        server.set("/doc", Reply::json(r#"{"a":1}"#));
        server.set("/missing", Reply::status(404, "{}"));
        let outbound = outbound();
        let doc: serde_json::Value = outbound.get_json(&url(&server.url("/doc"))).await.unwrap();
        assert_eq!(doc["a"], 1);

        let request = ::http::Request::get(server.url("/missing"))
            .body(Vec::new())
            .unwrap();
        let response = outbound.execute(request).await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(response.body(), b"{}");
        assert!(matches!(
            outbound
                .get_json::<serde_json::Value>(&url(&server.url("/missing")))
                .await,
            Err(OutboundError::Status(404))
        ));
        server.set("/html", Reply::json("<html></html>"));
        assert!(matches!(
            outbound
                .get_json::<serde_json::Value>(&url(&server.url("/html")))
                .await,
            Err(OutboundError::NotJson(_))
        ));
    }

    #[tokio::test]
    async fn follows_three_same_origin_redirects_and_no_more() {
        let server = TestServer::start().await;
        server.set("/doc", Reply::json(r#"{"ok":true}"#));
        server.set("/r1", Reply::redirect(&server.url("/doc")));
        server.set("/r2", Reply::redirect("/r1"));
        server.set("/r3", Reply::redirect("/r2"));
        server.set("/r4", Reply::redirect("/r3"));
        let outbound = outbound();
        let doc: serde_json::Value = outbound.get_json(&url(&server.url("/r3"))).await.unwrap();
        assert_eq!(doc["ok"], true);
        assert!(matches!(
            outbound
                .get_json::<serde_json::Value>(&url(&server.url("/r4")))
                .await,
            Err(OutboundError::TooManyRedirects)
        ));
    }

    #[tokio::test]
    async fn refuses_a_redirect_to_another_origin() {
        let server = TestServer::start().await;
        server.set("/doc", Reply::json("{}"));
        // The same server by another name is another origin.
        let elsewhere = server.url("/doc").replace("127.0.0.1", "localhost");
        server.set("/away", Reply::redirect(&elsewhere));
        let result = outbound()
            .get_json::<serde_json::Value>(&url(&server.url("/away")))
            .await;
        match result {
            Err(OutboundError::RedirectedElsewhere(origin)) => {
                assert!(origin.starts_with("http://localhost:"), "{origin}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(server.hits("/doc"), 0);
    }

    #[tokio::test]
    async fn cuts_off_bodies_past_the_bound_with_or_without_a_length() {
        let server = TestServer::start().await;
        let limits = OutboundLimits {
            max_body_bytes: 1024,
            ..OutboundLimits::default()
        };
        let outbound = Outbound::new(limits).unwrap();
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(4096));
        server.set("/declared", Reply::json(&big));
        server.set("/undeclared", Reply::without_length(&big));
        server.set("/small", Reply::without_length("{}"));
        for path in ["/declared", "/undeclared"] {
            let result = outbound
                .get_json::<serde_json::Value>(&url(&server.url(path)))
                .await;
            assert!(
                matches!(result, Err(OutboundError::TooLarge(1024))),
                "{path}: {result:?}"
            );
        }
        let small: serde_json::Value = outbound
            .get_json(&url(&server.url("/small")))
            .await
            .unwrap();
        assert_eq!(small, serde_json::json!({}));
    }

    #[tokio::test]
    async fn gives_up_on_a_server_that_does_not_answer() {
        let server = TestServer::start().await;
        server.set("/slow", Reply::Hang);
        let limits = OutboundLimits {
            timeout: Duration::from_millis(300),
            ..OutboundLimits::default()
        };
        let started = std::time::Instant::now();
        let result = Outbound::new(limits)
            .unwrap()
            .get_json::<serde_json::Value>(&url(&server.url("/slow")))
            .await;
        assert!(
            matches!(result, Err(OutboundError::Timeout(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn refuses_insecure_urls_before_connecting() {
        let outbound = outbound();
        for refused in [
            "http://idp.example.com/.well-known/openid-configuration",
            "https://user:pw@idp.example.com/jwks",
            "file:///etc/passwd",
        ] {
            let result = outbound.get_json::<serde_json::Value>(&url(refused)).await;
            assert!(
                matches!(result, Err(OutboundError::Refused(_))),
                "{refused}: {result:?}"
            );
            let request = ::http::Request::get(refused).body(Vec::new());
            if let Ok(request) = request {
                assert!(matches!(
                    outbound.execute(request).await,
                    Err(OutboundError::Refused(_))
                ));
            }
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transport_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = format!("http://{}/doc", listener.local_addr().unwrap());
        drop(listener);
        let result = outbound().get_json::<serde_json::Value>(&url(&gone)).await;
        assert!(
            matches!(result, Err(OutboundError::Transport(_))),
            "{result:?}"
        );
    }
}
