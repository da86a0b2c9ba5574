//! After-commit wake-ups: the one way a write tells a background worker
//! that work is waiting for it.
//!
//! A storage function that queues work (an outbox message, a webhook
//! delivery) records its [`Work`] on the [`super::Conn`] it runs on, inside
//! the transaction. The code that commits (SQLite's writer thread and
//! `write_blocking`, PostgreSQL's `pg::write`) collects what a write
//! recorded only if that write's changes stay (its savepoint released, its
//! transaction committed), and wakes the matching workers after the commit
//! returned: a worker never wakes for rows it cannot see yet, and no handler
//! or service has to remember to wake anyone. A write that rolled back wakes
//! nobody. Wake-ups are hints: the workers also poll, and a write on another
//! node (or through another [`super::Database`] handle) is found by that poll.

use std::cell::Cell;
use tokio::sync::Notify;

/// A kind of background work a write can queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A row in `outbox`: the outbox worker sends it.
    Outbox,
    /// Rows in `webhook_deliveries`: the webhook worker delivers them.
    Webhooks,
}

/// The kinds of work one write (or one batch of writes) queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    outbox: bool,
    webhooks: bool,
}

impl Queued {
    fn with(mut self, work: Work) -> Self {
        match work {
            Work::Outbox => self.outbox = true,
            Work::Webhooks => self.webhooks = true,
        }
        self
    }

    /// Both sets: a batch queued what any of its committed writes queued.
    pub(super) fn and(self, other: Queued) -> Queued {
        Queued {
            outbox: self.outbox || other.outbox,
            webhooks: self.webhooks || other.webhooks,
        }
    }
}

/// What a write records while it runs, kept on its connection handle.
#[derive(Default)]
pub(super) struct Recorder(Cell<Queued>);

impl Recorder {
    pub(super) fn note(&self, work: Work) {
        self.0.set(self.0.get().with(work));
    }

    pub(super) fn take(&self) -> Queued {
        self.0.take()
    }
}

/// One [`Notify`] per worker, owned by the [`super::Database`]: the write
/// path notifies, the workers wait.
#[derive(Default)]
pub struct Wakeups {
    outbox: Notify,
    webhooks: Notify,
}

impl Wakeups {
    /// Wakes the workers whose work `queued` holds. Called only once the
    /// transaction that queued it committed.
    pub(super) fn wake(&self, queued: Queued) {
        if queued.outbox {
            self.outbox.notify_one();
        }
        if queued.webhooks {
            self.webhooks.notify_one();
        }
    }

    /// Resolves once a committed write queued work of this kind (or at
    /// once, if one did since the worker last waited).
    pub async fn queued(&self, work: Work) {
        match work {
            Work::Outbox => self.outbox.notified().await,
            Work::Webhooks => self.webhooks.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Work;
    use crate::config::DatabaseSettings;
    use crate::db::{Database, StorageError};
    use futures_util::FutureExt;

    fn woken(db: &Database, work: Work) -> bool {
        db.wakeups().queued(work).now_or_never().is_some()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_a_committed_write_wakes_the_worker_for_what_it_queued() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&DatabaseSettings {
            path: dir.path().join("wake.db"),
            ..DatabaseSettings::default()
        })
        .unwrap();

        let failed = db
            .write(|c| {
                c.queued(Work::Outbox);
                Err::<(), _>(StorageError::NoRow)
            })
            .await;
        assert!(failed.is_err());
        assert!(
            !woken(&db, Work::Outbox),
            "a rolled-back write woke the worker"
        );

        db.write(|c| {
            c.queued(Work::Webhooks);
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
        assert!(
            woken(&db, Work::Webhooks),
            "woken by the time the write is answered"
        );
        assert!(
            !woken(&db, Work::Outbox),
            "only the worker for what was queued"
        );

        db.write_blocking(|c| {
            c.queued(Work::Outbox);
            Ok::<_, StorageError>(())
        })
        .unwrap();
        assert!(woken(&db, Work::Outbox));
        assert!(!woken(&db, Work::Webhooks), "one wake-up per commit");
    }
}
