//! Webhook deliveries leaving the server: the worker that drains the
//! delivery queue, and the sender that signs each request (Standard
//! Webhooks) and keeps it from reaching anywhere it must not.
//!
//! The worker claims the oldest due delivery of each endpoint (one in
//! flight per endpoint, so each receives its events in order), sends up to
//! `webhooks.concurrency` at once to different endpoints, and records each
//! outcome in its own write right after the answer. A receiver that hangs
//! holds one slot for `webhooks.timeout` at most and never the API. A clean
//! stop waits for the attempts in flight and records them, so nothing is
//! sent twice; a crash leaves their claims to expire and the deliveries to
//! be sent again (receivers deduplicate by `webhook-id`, the event's id).

use crate::auth::webhook_signing;
use crate::config::WebhookSettings;
use crate::db::{Wakeups, Work};
use crate::domain::Clock;
use crate::domain::webhook::{REFUSED_TARGET, RetrySchedule, TargetPolicy, UrlRefused};
use crate::services;
use crate::services::operations::Database;
use crate::services::webhooks::{AttemptResult, DueDelivery};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinSet;

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

/// The worker: see the module's documentation.
pub struct WebhookWorker {
    db: Database,
    clock: Clock,
    sender: Sender,
    schedule: RetrySchedule,
    disable_after: Duration,
    poll_interval: Duration,
    concurrency: usize,
    /// Attempts in flight at once for one organization: its endpoints
    /// hanging never take every slot.
    per_org: usize,
    /// Claims outlast an attempt (its timeout) with room to record it.
    lease: Duration,
    wakeups: Arc<Wakeups>,
}

impl WebhookWorker {
    pub fn new(db: Database, clock: Clock, settings: &WebhookSettings) -> Result<Self, String> {
        Ok(Self {
            sender: Sender::new(policy(settings), settings.timeout.0)?,
            schedule: RetrySchedule {
                initial: settings.retry_initial.0,
                max: settings.retry_max.0,
                max_attempts: settings.max_attempts,
            },
            disable_after: settings.disable_after.0,
            poll_interval: settings.poll_interval.0,
            concurrency: settings.concurrency,
            per_org: (settings.concurrency / 4).max(1),
            lease: settings
                .timeout
                .0
                .saturating_mul(2)
                .saturating_add(Duration::from_secs(30)),
            wakeups: db.wakeups(),
            db,
            clock,
        })
    }

    /// Delivers until `stop` turns true, then finishes what is in flight.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // Each attempt answers its organization when it is done.
        let mut in_flight: JoinSet<i64> = JoinSet::new();
        let mut per_org: HashMap<i64, usize> = HashMap::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let room = self.concurrency.saturating_sub(in_flight.len());
            if room > 0 {
                for due in self.claim(room, &per_org).await {
                    *per_org.entry(due.org_id).or_default() += 1;
                    in_flight.spawn(self.attempt(due));
                }
            }
            tokio::select! {
                _ = self.wakeups.queued(Work::Webhooks) => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(org_id) = done
                        && let Some(count) = per_org.get_mut(&org_id)
                    {
                        *count = count.saturating_sub(1);
                    }
                }
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    /// Finds due deliveries (a read: an idle poll writes nothing) and claims
    /// up to `room` of them, at most `per_org` in flight per organization.
    async fn claim(&self, room: usize, in_flight: &HashMap<i64, usize>) -> Vec<DueDelivery> {
        let now = self.clock.now();
        // More than there is room for: some are skipped for their organization.
        let limit = (room * 4) as i64;
        let found = self
            .db
            .read(move |conn| services::webhooks::due(conn, limit, now))
            .await;
        let candidates = match found {
            Ok(candidates) => candidates,
            Err(error) => {
                tracing::warn!(%error, "cannot read the webhook queue; retrying later");
                return Vec::new();
            }
        };
        let mut taken: HashMap<i64, usize> = in_flight.clone();
        let chosen: Vec<DueDelivery> = candidates
            .into_iter()
            .filter(|due| {
                let count = taken.entry(due.org_id).or_default();
                let fits = *count < self.per_org;
                if fits {
                    *count += 1;
                }
                fits
            })
            .take(room)
            .collect();
        if chosen.is_empty() {
            return chosen;
        }
        let (lease, now) = (self.lease, self.clock.now());
        match self
            .db
            .write(move |tx| services::webhooks::claim(tx, chosen, lease, now))
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot claim webhook deliveries; retrying later");
                Vec::new()
            }
        }
    }

    fn attempt(&self, due: DueDelivery) -> impl std::future::Future<Output = i64> + Send + 'static {
        let (db, clock, sender) = (self.db.clone(), self.clock.clone(), self.sender.clone());
        let (schedule, disable_after) = (self.schedule, self.disable_after);
        async move {
            let org_id = due.org_id;
            let result = sender.send(&due).await;
            if let Some(error) = &result.error {
                tracing::info!(
                    endpoint = due.endpoint_id,
                    event = %due.event_uuid,
                    attempt = due.attempts + 1,
                    error = %error,
                    "webhook delivery failed"
                );
            }
            let jitter = rand::rng().random_range(-1.0..=1.0);
            let now = clock.now();
            let recorded = db
                .write(move |tx| {
                    services::webhooks::finish(
                        tx,
                        &due,
                        &result,
                        schedule,
                        disable_after,
                        jitter,
                        now,
                    )
                })
                .await;
            if let Err(error) = recorded {
                // The claim runs out and the delivery is tried again.
                tracing::warn!(%error, "cannot record a webhook attempt");
            }
            org_id
        }
    }
}
