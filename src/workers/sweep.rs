//! The maintenance sweep, every `invitations.expiry_sweep_interval`: stores
//! EXPIRED on invitations whose expiry passed (with their
//! `invitation.expired` events), so the count of "pending but expired" rows
//! that reads must subtract stays small; queues due expiry reminders
//! (the outbox worker is woken by their commit); deletes accounts whose
//! email was never proven in time, expired idempotency keys and events past
//! their retention; looks verified domains' TXT records up again once
//! `domains.recheck` passed since the last look (a record gone moves its
//! domain back to unverified).
//!
//! One pass is [`Sweeper::run_once`], which answers what it did (tests call
//! it after moving the test clock). The loop waits one interval, or the
//! stop, then runs a pass: the first pass comes one interval after the
//! start, not at it, since serving begins before this task first runs and
//! reads apply expiry themselves, so a pass at once would only race the
//! first requests. A step that fails is logged and tried again next pass.

use crate::config::Settings;
use crate::db::Database;
use crate::delivery::Composer;
use crate::domain::Clock;
use crate::services;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What one pass changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Accounts deleted because their email was never verified in time.
    pub accounts_deleted: usize,
    /// Invitations whose expiry was stored.
    pub invitations_expired: usize,
    /// Expiry reminders queued in the outbox.
    pub reminders_queued: usize,
    /// Events deleted past their retention.
    pub events_pruned: usize,
    /// Verified domains whose TXT record was gone at the recheck.
    pub domains_unverified: usize,
}

pub struct Sweeper {
    db: Database,
    clock: Clock,
    composer: Arc<Composer>,
    every: Duration,
    unverified_lifetime: Duration,
    event_retention: Duration,
    reminders: bool,
    resolver: crate::dns::Resolver,
    recheck: Duration,
}

impl Sweeper {
    pub fn new(db: Database, clock: Clock, composer: Arc<Composer>, settings: &Settings) -> Self {
        Self {
            db,
            clock,
            composer,
            every: settings.invitations.expiry_sweep_interval.0,
            unverified_lifetime: settings.auth.unverified_account_lifetime.0,
            event_retention: settings.events.retention.0,
            reminders: settings.invitations.reminder_before.is_some(),
            resolver: crate::dns::Resolver::from_settings(&settings.domains),
            recheck: settings.domains.recheck.0,
        }
    }

    /// Sweeps every interval until `stop` turns true.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.every, self.every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            self.run_once().await;
        }
    }

    /// One pass over every step; answers what it changed.
    pub async fn run_once(&self) -> SweepReport {
        let (db, clock) = (&self.db, &self.clock);
        let mut report = SweepReport::default();
        let (unverified_lifetime, now) = (self.unverified_lifetime, clock.now());
        match db
            .write(move |tx| services::accounts::sweep(tx, unverified_lifetime, now))
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                report.accounts_deleted = n;
                tracing::info!(
                    accounts = n,
                    "deleted accounts whose email was never verified"
                );
            }
            Err(error) => tracing::warn!(%error, "unverified-account sweep failed; retrying later"),
        }
        let now = clock.now();
        if let Err(error) = db
            .write(move |tx| services::idempotency::prune(tx, now))
            .await
        {
            tracing::warn!(%error, "pruning idempotency keys failed; retrying later");
        }
        loop {
            let now = clock.now();
            let swept = db
                .write(move |tx| services::invitations::sweep_expired(tx, now))
                .await;
            match swept {
                Ok(n) if n >= services::invitations::SWEEP_BATCH => {
                    report.invitations_expired += n;
                    continue;
                }
                Ok(0) => break,
                Ok(n) => {
                    report.invitations_expired += n;
                    tracing::debug!(invitations = n, "stored expiry of invitations");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "expiry sweep failed; retrying later");
                    break;
                }
            }
        }
        if self.reminders {
            let composer = self.composer.clone();
            let now = clock.now();
            match db
                .write(move |tx| services::invitations::send_reminders(tx, &composer, now))
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    report.reminders_queued = n;
                    tracing::debug!(invitations = n, "queued expiry reminders");
                }
                Err(error) => tracing::warn!(%error, "queuing reminders failed; retrying later"),
            }
        }
        let retention = self.event_retention;
        loop {
            let now = clock.now();
            match db
                .write(move |tx| services::events::prune(tx, retention, now))
                .await
            {
                Ok(n) if n >= services::events::PRUNE_BATCH => {
                    report.events_pruned += n;
                    continue;
                }
                Ok(n) => {
                    report.events_pruned += n;
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "pruning old events failed; retrying later");
                    break;
                }
            }
        }
        match services::domains::recheck(db, &self.resolver, clock, self.recheck).await {
            Ok(0) => {}
            Ok(n) => report.domains_unverified = n,
            Err(error) => tracing::warn!(%error, "rechecking domains failed; retrying later"),
        }
        report
    }
}
