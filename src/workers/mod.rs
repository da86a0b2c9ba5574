//! The background loops, one file each: the outbox worker (`outbox.rs`,
//! mail), the webhook worker (`webhooks.rs`), the maintenance sweep
//! (`sweep.rs`). Each exposes one pass, `run_once`, that answers what it
//! did; its loop is that pass, then a wait for a wake-up (a committed write
//! queued work: `db::Wakeups`), its timer, or the stop.
//!
//! `startup` builds them into one [`Workers`] and only spawns their loops;
//! tests run single passes through the same value (`Application::workers`)
//! instead of sleeping while a loop might run. What the workers send
//! through lives elsewhere: `delivery` (composing, mail transports) and
//! `webhooks` (the signing HTTP client).

pub mod outbox;
pub mod sweep;
pub mod webhooks;

use crate::config::Settings;
use crate::db::{Database, StorageError};
use crate::delivery::{Composer, Transport};
use crate::domain::Clock;
use outbox::{OutboxWorker, RetryPolicy};
use std::sync::Arc;
use sweep::{SweepReport, Sweeper};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webhooks::{WebhookPass, WebhookWorker};

/// The application's three workers, built with the server.
#[derive(Clone)]
pub struct Workers {
    outbox: Arc<OutboxWorker<Transport>>,
    webhooks: Arc<WebhookWorker>,
    sweep: Arc<Sweeper>,
}

/// The loops [`Workers::spawn`] started, and how to stop them.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks every loop to stop and waits: the outbox worker finishes and
    /// records the message in hand, the webhook worker its attempts in
    /// flight, so nothing is sent twice.
    pub async fn stop(self) {
        // Fails only when every loop has already ended.
        self.stop.send(true).ok();
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a worker loop ended abnormally");
            }
        }
    }
}

impl Workers {
    /// Builds the workers from the settings; fails when the webhook HTTP
    /// client cannot be built.
    pub fn new(
        db: &Database,
        clock: &Clock,
        transport: Transport,
        composer: Arc<Composer>,
        settings: &Settings,
    ) -> Result<Self, String> {
        let delivery = &settings.delivery;
        let outbox = OutboxWorker::new(
            db.clone(),
            transport,
            RetryPolicy {
                max_attempts: delivery.max_attempts,
                initial: delivery.retry_initial.0,
                max: delivery.retry_max.0,
            },
            delivery.poll_interval.0,
        )
        .with_clock(clock.clone())
        .with_claim_lease(delivery.claim_lease.0);
        let webhooks = WebhookWorker::new(db.clone(), clock.clone(), &settings.webhooks)?;
        let sweep = Sweeper::new(db.clone(), clock.clone(), composer, settings);
        Ok(Self {
            outbox: Arc::new(outbox),
            webhooks: Arc::new(webhooks),
            sweep: Arc::new(sweep),
        })
    }

    /// Starts the three loops on the current runtime.
    pub fn spawn(&self) -> Running {
        let (stop, stopped) = watch::channel(false);
        let (outbox, webhooks, sweep) = (
            self.outbox.clone(),
            self.webhooks.clone(),
            self.sweep.clone(),
        );
        let (for_outbox, for_webhooks) = (stopped.clone(), stopped.clone());
        let tasks = vec![
            tokio::spawn(async move { outbox.run(for_outbox).await }),
            tokio::spawn(async move { webhooks.run(for_webhooks).await }),
            tokio::spawn(async move { sweep.run(stopped).await }),
        ];
        Running { stop, tasks }
    }

    /// One pass of the outbox worker: how many messages it handled.
    pub async fn run_outbox_once(&self) -> Result<usize, StorageError> {
        self.outbox.run_once().await
    }

    /// One pass of the webhook worker, its attempts finished.
    pub async fn deliver_webhooks_once(&self) -> WebhookPass {
        self.webhooks.run_once().await
    }

    /// One pass of the maintenance sweep.
    pub async fn sweep_once(&self) -> SweepReport {
        self.sweep.run_once().await
    }
}
