//! The webhook worker: drains the delivery queue through the signing
//! HTTP client in `crate::webhooks`.
//!
//! It claims the oldest due delivery of each endpoint (one in flight per
//! endpoint, so each receives its events in order), sends up to
//! `webhooks.concurrency` at once to different endpoints, and records each
//! outcome in its own write right after the answer. A receiver that hangs
//! holds one slot for `webhooks.timeout` at most and never the API. A clean
//! stop waits for the attempts in flight and records them, so nothing is
//! sent twice; a crash leaves their claims to expire and the deliveries to
//! be sent again (receivers deduplicate by `webhook-id`, the event's id).
//!
//! One pass claims what is due and fits the free slots, and starts it. The
//! loop is that pass, then a wait for a committed write's wake-up, the poll
//! interval, an attempt finishing (a slot freed) or the stop; attempts run
//! on meanwhile, so a hanging receiver never holds the others back.
//! [`WebhookWorker::run_once`] is the same pass that then waits for its
//! attempts and answers what they did, for tests.

use crate::config::WebhookSettings;
use crate::db::{Wakeups, Work};
use crate::domain::Clock;
use crate::domain::webhook::RetrySchedule;
use crate::services;
use crate::services::operations::Database;
use crate::services::webhooks::DueDelivery;
use crate::webhooks::{Sender, policy};
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What one [`WebhookWorker::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPass {
    /// Deliveries claimed and sent.
    pub attempted: usize,
    /// Of those, answered 2xx.
    pub delivered: usize,
    /// Of those, failed (to be retried, or given up).
    pub failed: usize,
}

/// How one attempt ended, for the slot accounting.
struct Attempted {
    org_id: i64,
    delivered: bool,
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
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let mut in_flight: JoinSet<Attempted> = JoinSet::new();
        let mut per_org: HashMap<i64, usize> = HashMap::new();
        loop {
            if *stop.borrow() {
                break;
            }
            self.start_due(&mut in_flight, &mut per_org).await;
            tokio::select! {
                _ = self.wakeups.queued(Work::Webhooks) => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(done) = done
                        && let Some(count) = per_org.get_mut(&done.org_id)
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

    /// The loop's pass: claims what is due and fits the free slots, and
    /// starts those attempts in `in_flight` (counted per organization).
    async fn start_due(
        &self,
        in_flight: &mut JoinSet<Attempted>,
        per_org: &mut HashMap<i64, usize>,
    ) {
        let room = self.concurrency.saturating_sub(in_flight.len());
        if room == 0 {
            return;
        }
        for due in self.claim(room, per_org).await {
            *per_org.entry(due.org_id).or_default() += 1;
            in_flight.spawn(self.attempt(due));
        }
    }

    /// One pass, finished: claims what is due (up to `webhooks.concurrency`,
    /// the per-organization share applying), sends it, records every
    /// outcome, and answers what happened. For tests, which then need no
    /// wait: time moves with the test clock.
    pub async fn run_once(&self) -> WebhookPass {
        let mut attempts: JoinSet<Attempted> = JoinSet::new();
        let mut per_org = HashMap::new();
        self.start_due(&mut attempts, &mut per_org).await;
        let mut pass = WebhookPass::default();
        while let Some(done) = attempts.join_next().await {
            pass.attempted += 1;
            match done {
                Ok(Attempted {
                    delivered: true, ..
                }) => pass.delivered += 1,
                _ => pass.failed += 1,
            }
        }
        pass
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

    fn attempt(
        &self,
        due: DueDelivery,
    ) -> impl std::future::Future<Output = Attempted> + Send + 'static {
        let (db, clock, sender) = (self.db.clone(), self.clock.clone(), self.sender.clone());
        let (schedule, disable_after) = (self.schedule, self.disable_after);
        async move {
            let org_id = due.org_id;
            let result = sender.send(&due).await;
            let delivered = result.error.is_none();
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
            Attempted { org_id, delivered }
        }
    }
}
