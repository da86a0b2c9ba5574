//! Webhook requests leaving the server: where an endpoint may point (the
//! policy, and the check an endpoint URL gets when it is given), and the
//! HTTP client that signs each request (Standard Webhooks) and keeps it
//! from reaching anywhere it must not.
//!
//! This is the webhook counterpart of `delivery`'s mail transports: it
//! knows how to send one request, not when. The loop that drains the
//! delivery queue is `workers::webhooks`. It stays a module of its own
//! (not under `workers`) because the API vets endpoint URLs with it, and
//! the API must not depend on the background loops.

use crate::auth::webhook_signing;
use crate::config::WebhookSettings;
use crate::domain::webhook::{REFUSED_TARGET, TargetPolicy, UrlRefused};
use crate::services::webhooks::{AttemptResult, DueDelivery};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long checking an endpoint's host may wait for its name to resolve.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a receiver's answer read before the connection is dropped.
pub const RESPONSE_READ_MAX: usize = 64 * 1024;

/// Where deliveries may go, as the settings say.
pub fn policy(settings: &WebhookSettings) -> TargetPolicy {
    TargetPolicy {
        allow_http_loopback: settings.allow_http_loopback,
        allowed_hosts: settings
            .allowed_hosts
            .iter()
            .map(|host| {
                host.trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase()
            })
            .collect(),
    }
}

/// Checks an endpoint URL as it is given: the rules of
/// [`TargetPolicy::check_url`], and every address its host resolves to now
/// (a name that resolves to a private address is refused at the door, not
/// only at delivery time). Answers the URL as stored, or why not: every
/// refusal of where it leads reads the same ([`UrlRefused`]'s `Display`);
/// the reason is logged at debug.
pub async fn vet_url(policy: &TargetPolicy, raw: &str) -> Result<String, UrlRefused> {
    let vetted = vet(policy, raw).await;
    if let Err(refused) = &vetted {
        tracing::debug!(reason = refused.reason(), "webhook url refused");
    }
    vetted
}

async fn vet(policy: &TargetPolicy, raw: &str) -> Result<String, UrlRefused> {
    let target = policy.check_url(raw.trim())?;
    if target.host.parse::<std::net::IpAddr>().is_err() && !policy.exempts(&target.host) {
        let unreachable = |reason: String| UrlRefused::Target { reason };
        let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
        let addresses: Vec<SocketAddr> = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
            .await
            .map_err(|_| unreachable(format!("{} did not resolve in time", target.host)))?
            .map_err(|e| unreachable(format!("{} cannot be resolved: {e}", target.host)))?
            .collect();
        if addresses.is_empty() {
            return Err(unreachable(format!(
                "{} resolves to no address",
                target.host
            )));
        }
        for address in addresses {
            policy.check_address(&target.host, address.ip())?;
        }
    }
    Ok(target.url.to_string())
}

/// Resolves names for the HTTP client and keeps only the addresses the
/// policy allows: a name that changed to a private address since the
/// endpoint was created (DNS rebinding) reaches nothing.
struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_ascii_lowercase();
            // A failed lookup and a refused address read alike here too:
            // the attempt's error is listed to whoever manages the endpoint.
            let allowed: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addresses) => addresses
                    .filter(|address| policy.check_address(&host, address.ip()).is_ok())
                    .collect(),
                Err(error) => {
                    tracing::debug!(%host, %error, "webhook host did not resolve");
                    Vec::new()
                }
            };
            if allowed.is_empty() {
                return Err(REFUSED_TARGET.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Sends one delivery: signed, redirects not followed, the answer read up
/// to [`RESPONSE_READ_MAX`], all within the timeout.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
    timeout: Duration,
}

impl Sender {
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .user_agent(concat!("enlist-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    pub async fn send(&self, due: &DueDelivery) -> AttemptResult {
        let started = Instant::now();
        let failed = |error: String, status: Option<u16>| AttemptResult {
            status,
            duration_ms: elapsed_ms(started),
            error: Some(error),
        };
        // Checked again at every attempt: the settings may have changed, and
        // an address written as the host never reaches the resolver.
        let target = match self.policy.check_url(&due.url) {
            Ok(target) => target,
            Err(why) => return failed(why.to_string(), None),
        };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let body = due.body.as_bytes();
        let signatures: Vec<String> = std::iter::once(&due.secret)
            .chain(due.previous_secret.as_ref())
            .filter_map(|secret| {
                webhook_signing::signature(secret, &due.event_uuid, timestamp, body)
            })
            .collect();
        let request = self
            .client
            .post(target.url)
            .header("content-type", "application/json")
            .header("webhook-id", &due.event_uuid)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(due.body.clone());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failed(describe(error, self.timeout), None),
        };
        let status = response.status().as_u16();
        let mut read = 0usize;
        while read <= RESPONSE_READ_MAX {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) => break,
                // The status is what counts; a body cut short changes nothing.
                Err(_) => break,
            }
        }
        drop(response);
        match status {
            200..=299 => AttemptResult {
                status: Some(status),
                duration_ms: elapsed_ms(started),
                error: None,
            },
            300..=399 => failed(
                format!("answered {status}: redirects are not followed"),
                Some(status),
            ),
            _ => failed(format!("answered {status}"), Some(status)),
        }
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The cause of a failed request, for the attempt's record.
fn describe(error: reqwest::Error, timeout: Duration) -> String {
    use std::error::Error as _;
    if error.is_timeout() {
        return format!("no answer within {}", humantime::format_duration(timeout));
    }
    // Without the URL: it may carry a token (hook URLs often do), and this
    // text is logged, listed in the attempts and kept as a disabled reason.
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}
