//! The outbox worker: sends due messages one at a time, marks each sent only
//! after the transport accepted it, and backs off exponentially on failure.
//! One pass is [`OutboxWorker::run_once`] (tests call it); the loop is that
//! pass, then a wait for a committed write's wake-up, the poll interval, or
//! the stop. Composing and the transports live in `delivery`; this file
//! only decides when to send and records what happened.
//! Each message's outcome is recorded (one small write) right after its
//! send and before the next message goes out, so a crash between a send and
//! its record resends at most that one message; a clean stop finishes and
//! records the message in hand, so it resends nothing.

use crate::db::outbox::{self, QueuedMessage};
use crate::db::{Database, StorageError, Wakeups, Work};
use crate::delivery::{DeliveryError, Transport};
use crate::domain::{Clock, Millis};
use rand::Rng;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Anything that can deliver a queued message (the configured transport in
/// production; tests substitute transports that fail on purpose).
pub trait Deliver: Send + Sync + 'static {
    fn deliver(
        &self,
        message: &QueuedMessage,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

impl Deliver for Transport {
    fn deliver(
        &self,
        message: &QueuedMessage,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        self.send(message)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts: `initial`, doubled each
    /// time, capped at `max`, with ±20 % jitter so a burst of failures does
    /// not retry in lockstep.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1_u32 << exponent).min(self.max);
        base.mul_f64(rand::rng().random_range(0.8..=1.2))
    }
}

/// Messages handled per look at the queue.
const BATCH: i64 = 32;

/// How long a PostgreSQL node holds the messages it claimed by default (see
/// `outbox::claim_due`, `delivery.claim_lease`): longer than sending a whole
/// batch takes, each send bounded by the transport's timeout (32 × the SMTP
/// default of 10 s is 5 min 20 s), so no other node sends them meanwhile; a
/// node that dies with a claim leaves its messages to another after this long.
const CLAIM_LEASE: Duration = Duration::from_secs(10 * 60);

pub struct OutboxWorker<T> {
    db: Database,
    transport: T,
    retry: RetryPolicy,
    poll_interval: Duration,
    wakeups: Arc<Wakeups>,
    clock: Clock,
    claim_lease: Duration,
}

impl<T: Deliver> OutboxWorker<T> {
    pub fn new(db: Database, transport: T, retry: RetryPolicy, poll_interval: Duration) -> Self {
        Self {
            wakeups: db.wakeups(),
            db,
            transport,
            retry,
            poll_interval,
            clock: Clock::default(),
            claim_lease: CLAIM_LEASE,
        }
    }

    /// How long a claim on due messages lasts (`delivery.claim_lease`).
    pub fn with_claim_lease(mut self, lease: Duration) -> Self {
        self.claim_lease = lease;
        self
    }

    /// Reads "now" from `clock` (the application's), so moving it moves retries.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs until `stop` turns true: a pass, then a wait. Messages left
    /// over from before a restart are due already and go out first.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        tracing::debug!("outbox worker started");
        loop {
            let handled = match self.send_due(&stop).await {
                Ok(handled) => handled,
                Err(error) => {
                    tracing::warn!(%error, "outbox worker could not read the queue; retrying later");
                    0
                }
            };
            if *stop.borrow() {
                break;
            }
            if handled as i64 == BATCH {
                continue;
            }
            tokio::select! {
                _ = self.wakeups.queued(Work::Outbox) => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = stop.changed() => break,
            }
        }
        tracing::debug!("outbox worker stopped");
    }

    /// One pass: sends what is due now (up to one batch) and records each
    /// outcome; answers how many messages it handled.
    pub async fn run_once(&self) -> Result<usize, StorageError> {
        let (_keep_running, running) = watch::channel(false);
        self.send_due(&running).await
    }

    /// Sends the messages due now, one by one, recording each outcome
    /// before the next send; says how many it handled. The queue is read
    /// once per `BATCH` messages; each record is its own small write, which
    /// the group-commit writer shares a commit with whatever else is writing.
    /// The message in hand when a stop is asked for is finished and
    /// recorded, so a clean stop sends nothing twice.
    pub async fn send_due(&self, stop: &watch::Receiver<bool>) -> Result<usize, StorageError> {
        let now = self.clock.now();
        let lease_until = now.plus(self.claim_lease);
        let due = self
            .db
            .write(move |tx| outbox::claim_due(tx, now, lease_until, BATCH))
            .await?;
        let mut handled = 0;
        for (index, message) in due.iter().enumerate() {
            if *stop.borrow() {
                // Claimed but not attempted: due again for whoever runs next.
                let untried: Vec<(i64, Millis)> =
                    due.iter().skip(index).map(|m| (m.id, m.due_at)).collect();
                self.db
                    .write(move |tx| {
                        untried
                            .iter()
                            .try_for_each(|(id, due_at)| outbox::release(tx, *id, *due_at))
                    })
                    .await?;
                break;
            }
            let outcome = self.attempt(message).await;
            self.db
                .write(move |tx| {
                    match &outcome {
                        Outcome::Sent { id, at } => outbox::mark_sent(tx, *id, *at)?,
                        Outcome::Failed {
                            id,
                            error,
                            retry_at,
                            at,
                            due_at,
                        } => outbox::mark_failed(tx, *id, error, *retry_at, *due_at, *at)?,
                    }
                    Ok::<_, StorageError>(())
                })
                .await?;
            handled += 1;
        }
        Ok(handled)
    }

    async fn attempt(&self, message: &QueuedMessage) -> Outcome {
        let id = message.id;
        match self.transport.deliver(message).await {
            Ok(()) => Outcome::Sent {
                id,
                at: self.clock.now(),
            },
            Err(error) => {
                let attempts = message.attempts + 1;
                let now = self.clock.now();
                let retry_at = (attempts < self.retry.max_attempts)
                    .then(|| now.plus(self.retry.delay(attempts)));
                // A mail server's refusal often quotes the address; the log
                // keeps the reason without it (the outbox keeps it whole).
                let logged = without_recipient(&error.to_string(), &message.recipient);
                match retry_at {
                    Some(at) => tracing::warn!(
                        message = id, attempts, error = %logged, retry_at = %at.to_rfc3339(), "message not delivered; will retry"
                    ),
                    None => {
                        tracing::error!(message = id, attempts, error = %logged, "message not delivered; giving up")
                    }
                }
                Outcome::Failed {
                    id,
                    error: error.to_string(),
                    retry_at,
                    at: now,
                    due_at: message.due_at,
                }
            }
        }
    }
}

/// What happened to one message, recorded right after its send.
enum Outcome {
    Sent {
        id: i64,
        at: Millis,
    },
    Failed {
        id: i64,
        error: String,
        retry_at: Option<Millis>,
        at: Millis,
        /// When the attempt was due: the schedule a message given up keeps.
        due_at: Millis,
    },
}

/// `text` with every spelling of `recipient` (any case) replaced.
fn without_recipient(text: &str, recipient: &str) -> String {
    let needle = recipient.trim().to_lowercase();
    if needle.is_empty() {
        return text.to_owned();
    }
    let lower = text.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII; then the
    // positions would not line up, and the whole text is withheld.
    if lower.len() != text.len() {
        return if lower.contains(&needle) {
            "(the reason quotes the recipient; see the outbox)".to_owned()
        } else {
            text.to_owned()
        };
    }
    let mut kept = String::with_capacity(text.len());
    let mut rest = 0;
    for (at, _) in lower.match_indices(&needle) {
        kept.push_str(&text[rest..at]);
        kept.push_str("(the recipient)");
        rest = at + needle.len();
    }
    kept.push_str(&text[rest..]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_are_logged_without_the_recipient() {
        assert_eq!(
            without_recipient(
                "smtp: permanent error (550): 5.1.1 <Bob@Example.com>: Recipient address rejected",
                "bob@example.com"
            ),
            "smtp: permanent error (550): 5.1.1 <(the recipient)>: Recipient address rejected"
        );
        assert_eq!(
            without_recipient("connection refused", "bob@example.com"),
            "connection refused"
        );
        assert!(
            !without_recipient("550 JOSÉ@example.com unknown", "josé@example.com")
                .contains("example.com")
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial: Duration::from_secs(5),
            max: Duration::from_secs(60),
        };
        for (attempts, base) in [
            (1, 5.0),
            (2, 10.0),
            (3, 20.0),
            (4, 40.0),
            (5, 60.0),
            (30, 60.0),
        ] {
            let delay = policy.delay(attempts).as_secs_f64();
            assert!(
                delay >= base * 0.8 - 1e-9 && delay <= base * 1.2 + 1e-9,
                "{attempts}: {delay}"
            );
        }
    }
}
