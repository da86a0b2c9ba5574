//! The group-commit writer thread.

use super::{MAX_BATCH, Pool, StorageError, Waiting, WriteJob};
use std::sync::atomic::Ordering;

/// The writer thread: takes the queued writes, runs as many as are waiting
/// (up to [`MAX_BATCH`]) in one transaction, each in a savepoint, commits,
/// then answers every one of them.
pub(super) fn group_commit(
    pool: &Pool,
    queue: &std::sync::mpsc::Receiver<WriteJob>,
    waiting: &Waiting,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        waiting
            .writer
            .fetch_sub(batch.len() as i64, Ordering::Relaxed);
        let conn = match pool.get() {
            Ok(conn) => conn,
            Err(error) => {
                fail_batch(batch, &error.to_string());
                continue;
            }
        };
        if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
            fail_batch(batch, &error.to_string());
            continue;
        }
        let mut deliveries = Vec::with_capacity(batch.len());
        for job in batch {
            let savepoint = conn.execute_batch("SAVEPOINT write");
            let (succeeded, delivery) = job(&conn);
            let settled = if succeeded {
                conn.execute_batch("RELEASE write")
            } else {
                conn.execute_batch("ROLLBACK TO write; RELEASE write")
            };
            if let Err(error) = savepoint.and(settled) {
                tracing::error!(%error, "a savepoint of the write batch failed");
            }
            deliveries.push(delivery);
        }
        let committed = conn.execute_batch("COMMIT").map_err(StorageError::from);
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let failure = committed.as_ref().err().map(|e| e.to_string());
        for delivery in deliveries {
            delivery(match &failure {
                None => Ok(()),
                Some(message) => Err(StorageError::Batch(message.clone())),
            });
        }
    }
}

/// A batch that could not start: its writes are not run, and dropping them
/// drops their reply channels, so each caller hears a storage error.
fn fail_batch(batch: Vec<WriteJob>, error: &str) {
    tracing::error!(%error, writes = batch.len(), "a write batch could not start");
}
