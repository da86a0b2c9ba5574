//! The group-commit writer thread, and the contract it keeps with callers.
//!
//! Every write waiting while a transaction commits joins the next
//! `BEGIN IMMEDIATE` transaction, in its own savepoint, and is answered only
//! once that transaction's fate is known. The writer never answers a caller
//! something other than what happened:
//! - a write whose savepoint cannot be opened does not run, and fails;
//! - a write whose savepoint cannot be released is rolled back to it, and
//!   fails; if even that is impossible, the whole transaction is rolled back
//!   and every write in it fails with the real error (writes of the batch
//!   not run yet go into the next transaction);
//! - a batch that cannot begin answers each of its writes with the error;
//! - a write whose caller stopped waiting ([`Ticket::abandon`]) never runs.
//!
//! Once a batch committed, the workers whose work its kept writes queued
//! are woken (`after_commit.rs`); a batch that failed wakes nobody.

use super::Pool;
use crate::db::after_commit::{Queued, Wakeups};
use crate::db::sql::{Conn, WriteConn};
use crate::db::{StorageError, Waiting};
use rusqlite::Connection;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Writes committed together at most. Bounded so one commit never holds
/// answers back for long.
pub(super) const MAX_BATCH: usize = 64;

/// Writes the queue holds. Sixteen full batches: at the measured few
/// thousand writes a second, a full queue drains in well under a second,
/// far inside any sensible `database.write_timeout`, so the bound never
/// turns a burst away; what it stops is an overload growing memory and
/// latency without limit. Callers beyond it wait (asynchronously, in
/// order) for a place, within the same `write_timeout`.
pub(super) const QUEUE_BOUND: usize = 16 * MAX_BATCH;

pub(super) type Queue = mpsc::Receiver<Box<dyn Job>>;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

/// Who decides a queued write's fate: the writer claims it just before
/// running it, the caller abandons it when its wait ran out. Exactly one of
/// the two wins, so a write that timed out never runs later, and a caller
/// whose write already started waits for its real outcome.
#[derive(Clone, Default)]
pub(super) struct Ticket(Arc<AtomicU8>);

impl Ticket {
    fn claim(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// True when the write will never run; false when it already started.
    pub(super) fn abandon(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// How a write's caller learns its outcome once the batch's fate is known.
type Delivery = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// One write, type-erased for the writer thread.
pub(super) trait Job: Send {
    fn ticket(&self) -> &Ticket;
    /// Runs the caller's closure; says whether it succeeded, and how to
    /// answer the caller once the transaction committed or failed.
    fn run(self: Box<Self>, conn: &WriteConn) -> (bool, Delivery);
    /// Answers the caller with `error` without running the closure.
    fn fail(self: Box<Self>, error: StorageError);
}

pub(super) struct Write<F, T, E> {
    f: F,
    reply: oneshot::Sender<Result<T, E>>,
    ticket: Ticket,
    span: tracing::Span,
}

impl<F, T, E> Write<F, T, E> {
    pub(super) fn new(f: F, reply: oneshot::Sender<Result<T, E>>, ticket: Ticket) -> Self {
        Self {
            f,
            reply,
            ticket,
            span: tracing::Span::current(),
        }
    }
}

impl<F, T, E> Job for Write<F, T, E>
where
    F: FnOnce(&WriteConn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StorageError> + Send + 'static,
{
    fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    fn run(self: Box<Self>, conn: &WriteConn) -> (bool, Delivery) {
        let Write { f, reply, span, .. } = *self;
        let outcome = span.in_scope(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(E::from(StorageError::Panicked)))
        });
        let succeeded = outcome.is_ok();
        let delivery: Delivery = Box::new(move |settled: Result<(), StorageError>| {
            let outcome = match (outcome, settled) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(error)) => Err(E::from(error)),
                (Err(error), _) => Err(error),
            };
            // The caller may have gone (a dropped request); nothing to tell then.
            // Fails only when the caller stopped waiting (its request ended).
            reply.send(outcome).ok();
        });
        (succeeded, delivery)
    }

    fn fail(self: Box<Self>, error: StorageError) {
        // Fails only when the caller stopped waiting (its request ended).
        self.reply.send(Err(E::from(error))).ok();
    }
}

/// Failures to inject, for tests of the paths above that SQLite will not
/// take on demand.
#[derive(Clone, Default)]
pub(super) struct Faults {
    /// The next this many `SAVEPOINT`s fail.
    pub(super) savepoints: Arc<AtomicUsize>,
}

impl Faults {
    fn savepoint_fails(&self) -> bool {
        self.savepoints
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The writer thread: takes the queued writes, runs as many as are waiting
/// (up to [`MAX_BATCH`]) in one transaction, each in a savepoint, commits,
/// then answers every one of them. Ends when every sender is gone.
pub(super) fn group_commit(
    pool: &Pool,
    mut queue: Queue,
    waiting: &Waiting,
    faults: &Faults,
    wakeups: &Wakeups,
) {
    let mut pending: VecDeque<Box<dyn Job>> = VecDeque::with_capacity(MAX_BATCH);
    loop {
        if pending.is_empty() {
            let Some(job) = queue.blocking_recv() else {
                return;
            };
            pending.push_back(job);
            waiting.writer.fetch_sub(1, Ordering::Relaxed);
        }
        while pending.len() < MAX_BATCH {
            let Ok(job) = queue.try_recv() else { break };
            pending.push_back(job);
            waiting.writer.fetch_sub(1, Ordering::Relaxed);
        }
        run_batch(pool, &mut pending, faults, wakeups);
    }
}

/// Runs the writes in `pending` in one transaction. Writes it could not
/// get to (after a savepoint failure that doomed the transaction) stay in
/// `pending`, for the next one. Once the transaction committed, and before
/// any caller hears so, the workers for what its kept writes queued are
/// woken.
fn run_batch(
    pool: &Pool,
    pending: &mut VecDeque<Box<dyn Job>>,
    faults: &Faults,
    wakeups: &Wakeups,
) {
    let conn = match pool.get() {
        Ok(conn) => conn,
        Err(error) => {
            let message = format!("no write connection became free: {error}");
            fail_all(pending, || StorageError::Busy(message.clone()));
            return;
        }
    };
    if !conn.is_autocommit() {
        // A transaction left open by an earlier failure: never build on it.
        // The write's own error is answered; a failed rollback is reported
        // by the next BEGIN.
        conn.execute_batch("ROLLBACK").ok();
    }
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        fail_all(pending, || {
            batch_error("cannot begin the write batch", &error)
        });
        return;
    }
    let mut deliveries: Vec<Delivery> = Vec::with_capacity(pending.len());
    let mut queued = Queued::default();
    while let Some(job) = pending.pop_front() {
        if !job.ticket().claim() {
            continue; // its caller was told it timed out
        }
        let opened = if faults.savepoint_fails() {
            Err(injected())
        } else {
            conn.execute_batch("SAVEPOINT write")
        };
        if let Err(error) = opened {
            job.fail(batch_error("cannot open the write's savepoint", &error));
            continue;
        }
        let write = WriteConn::new(Conn::sqlite(&conn));
        let (succeeded, delivery) = job.run(&write);
        let write_queued = write.take_queued();
        if conn.is_autocommit() {
            // The closure ended the transaction itself (COMMIT, ROLLBACK):
            // what became of this batch's writes is unknown, so none is
            // reported as done.
            deliveries.push(delivery);
            abandon_batch(
                &conn,
                deliveries,
                "a write ended the batch's transaction itself; its outcome is unknown",
            );
            return;
        }
        let settled = if succeeded {
            conn.execute_batch("RELEASE write")
        } else {
            roll_back_savepoint(&conn)
        };
        match settled {
            Ok(()) => {
                if succeeded {
                    queued = queued.and(write_queued);
                }
                deliveries.push(delivery);
            }
            Err(error) if succeeded => {
                // Its changes are still in the transaction: undo them, or
                // undo the transaction.
                let message = format!("cannot release the write's savepoint: {error}");
                match roll_back_savepoint(&conn) {
                    Ok(()) => delivery(Err(StorageError::Batch(message))),
                    Err(rollback) => {
                        deliveries.push(delivery);
                        abandon_batch(
                            &conn,
                            deliveries,
                            &format!("{message}; nor roll it back: {rollback}"),
                        );
                        return;
                    }
                }
            }
            Err(error) => {
                deliveries.push(delivery);
                abandon_batch(
                    &conn,
                    deliveries,
                    &format!("cannot roll a failed write back to its savepoint: {error}"),
                );
                return;
            }
        }
    }
    let committed = conn.execute_batch("COMMIT");
    let failure = match committed {
        Ok(()) => None,
        Err(error) => {
            // The write's own error is answered; a failed rollback is reported
            // by the next BEGIN.
            conn.execute_batch("ROLLBACK").ok();
            tracing::error!(%error, writes = deliveries.len(), "a write batch failed to commit");
            Some(format!("cannot commit the write batch: {error}"))
        }
    };
    if failure.is_none() {
        wakeups.wake(queued);
    }
    for delivery in deliveries {
        delivery(match &failure {
            None => Ok(()),
            Some(message) => Err(StorageError::Batch(message.clone())),
        });
    }
}

fn roll_back_savepoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("ROLLBACK TO write; RELEASE write")
}

/// Rolls the whole transaction back and tells every write run in it why.
fn abandon_batch(conn: &Connection, deliveries: Vec<Delivery>, message: &str) {
    if !conn.is_autocommit()
        && let Err(error) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(%error, "cannot roll back the write batch");
    }
    tracing::error!(
        error = message,
        writes = deliveries.len(),
        "a write batch was rolled back"
    );
    for delivery in deliveries {
        delivery(Err(StorageError::Batch(message.to_owned())));
    }
}

/// A batch that could not start: none of its writes runs, and each caller
/// still waiting hears the real error.
fn fail_all(pending: &mut VecDeque<Box<dyn Job>>, error: impl Fn() -> StorageError) {
    tracing::error!(error = %error(), writes = pending.len(), "a write batch could not start");
    for job in pending.drain(..) {
        if job.ticket().claim() {
            job.fail(error());
        }
    }
}

/// A lock another process held past `busy_timeout` is worth retrying (503);
/// anything else is a failure (500). Either way the message is SQLite's own.
fn batch_error(context: &str, error: &rusqlite::Error) -> StorageError {
    let message = format!("{context}: {error}");
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StorageError::Busy(message)
        }
        _ => StorageError::Batch(message),
    }
}

fn injected() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some("injected failure".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::QUEUE_BOUND;
    use crate::config::{DatabaseSettings, HumanDuration};
    use crate::db::{Database, StorageError};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn open(dir: &tempfile::TempDir, customize: impl FnOnce(&mut DatabaseSettings)) -> Database {
        let mut settings = DatabaseSettings {
            path: dir.path().join("writer.db"),
            ..DatabaseSettings::default()
        };
        customize(&mut settings);
        let db = Database::open(&settings).unwrap();
        db.write_blocking(|tx| tx.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)", &[]))
            .unwrap();
        db
    }

    fn values(db: &Database) -> Vec<i64> {
        db.read_blocking(|c| c.query_all("SELECT v FROM t ORDER BY v", &[], |r| r.get::<i64>(0)))
            .unwrap()
    }

    async fn insert(db: &Database, v: i64) -> Result<(), StorageError> {
        db.write(move |c| {
            c.execute("INSERT INTO t VALUES (?1)", &[&v])?;
            Ok(())
        })
        .await
    }

    /// A write that inserts `v`, then holds the writer thread until
    /// `release` is dropped or sent to; writes queued meanwhile form the
    /// next batch together.
    struct Held {
        release: std::sync::mpsc::Sender<()>,
        done: tokio::task::JoinHandle<Result<(), StorageError>>,
    }

    async fn hold_writer(db: &Database, v: i64) -> Held {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let db2 = db.clone();
        let done = tokio::spawn(async move {
            db2.write(move |c| {
                c.execute("INSERT INTO t VALUES (?1)", &[&v])?;
                started.send(()).ok();
                gate.recv().ok();
                Ok(())
            })
            .await
        });
        running.await.unwrap();
        Held { release, done }
    }

    /// Waits until `n` writes sit in the queue, so their order is known.
    async fn queued(db: &Database, n: i64) {
        for _ in 0..500 {
            if db.pool_stats().writer_waiting == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{n} writes never queued");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_savepoint_cannot_be_released_nor_rolled_back_fails_its_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |_| {});
        let held = hold_writer(&db, 1).await;
        let innocent = tokio::spawn({
            let db = db.clone();
            async move { insert(&db, 2).await }
        });
        queued(&db, 1).await;
        let saboteur = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(|c| {
                    c.execute("INSERT INTO t VALUES (3)", &[])?;
                    // Releases the writer's savepoint itself: the writer's
                    // RELEASE then fails, and so does its ROLLBACK TO.
                    c.execute("RELEASE write", &[])?;
                    Ok::<_, StorageError>(())
                })
                .await
            }
        });
        queued(&db, 2).await;
        held.release.send(()).unwrap();

        assert!(held.done.await.unwrap().is_ok());
        for outcome in [innocent.await.unwrap(), saboteur.await.unwrap()] {
            match outcome {
                Err(StorageError::Batch(message)) => {
                    assert!(message.contains("no such savepoint"), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(values(&db), [1], "nothing of the failed batch committed");
        insert(&db, 4).await.unwrap();
        assert_eq!(values(&db), [1, 4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_that_broke_its_savepoint_commits_none_of_its_changes() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |_| {});
        let outcome = db
            .write(|c| {
                c.execute("INSERT INTO t VALUES (5)", &[])?;
                c.execute("RELEASE write", &[])?;
                // Fails: the caller hears this, and the first insert must go.
                c.execute("INSERT INTO t VALUES (5)", &[])?;
                Ok::<_, StorageError>(())
            })
            .await;

        match outcome {
            Err(error) => assert!(crate::db::is_unique_violation(&error), "{error}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(values(&db), Vec::<i64>::new());
        insert(&db, 6).await.unwrap();
        assert_eq!(values(&db), [6]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_savepoint_cannot_open_fails_alone_and_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |_| {});
        let held = hold_writer(&db, 1).await;
        db.fail_next_savepoints(1);
        let ran = Arc::new(AtomicUsize::new(0));
        let failing = tokio::spawn({
            let (db, ran) = (db.clone(), ran.clone());
            async move {
                db.write(move |c| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    c.execute("INSERT INTO t VALUES (2)", &[])?;
                    Ok::<_, StorageError>(())
                })
                .await
            }
        });
        queued(&db, 1).await;
        let next = tokio::spawn({
            let db = db.clone();
            async move { insert(&db, 3).await }
        });
        queued(&db, 2).await;
        held.release.send(()).unwrap();

        assert!(held.done.await.unwrap().is_ok());
        match failing.await.unwrap() {
            Err(StorageError::Batch(message)) => {
                assert!(message.contains("savepoint"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0, "its closure never ran");
        next.await.unwrap().unwrap();
        assert_eq!(values(&db), [1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_cannot_begin_answers_the_real_error_then_writes_resume() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |s| {
            s.busy_timeout = HumanDuration(Duration::from_millis(50))
        });
        // Another process holds the write lock past busy_timeout.
        let other = rusqlite::Connection::open(dir.path().join("writer.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();

        let outcome = insert(&db, 1).await;

        match &outcome {
            Err(error @ StorageError::Busy(message)) => {
                assert!(message.contains("locked"), "{message}");
                assert!(error.is_busy());
            }
            other => panic!("{other:?}"),
        }
        other.execute_batch("COMMIT").unwrap();
        insert(&db, 2).await.unwrap();
        assert_eq!(values(&db), [2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_without_a_free_connection_answers_busy_then_writes_resume() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |s| {
            s.pool_timeout = HumanDuration(Duration::from_millis(50))
        });
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn({
            let db = db.clone();
            move || {
                db.write_blocking(move |_| {
                    started.send(()).ok();
                    gate.recv().ok();
                    Ok::<_, StorageError>(())
                })
            }
        });
        running.recv().unwrap();

        let outcome = insert(&db, 1).await;

        assert!(
            matches!(&outcome, Err(StorageError::Busy(m)) if m.contains("no write connection")),
            "{outcome:?}"
        );
        release.send(()).unwrap();
        holder.join().unwrap().unwrap();
        insert(&db, 2).await.unwrap();
        assert_eq!(values(&db), [2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_ends_the_transaction_itself_is_not_reported_as_done() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |_| {});
        let outcome = db
            .write(|c| {
                c.execute("INSERT INTO t VALUES (1)", &[])?;
                c.execute("COMMIT", &[])?;
                Ok::<_, StorageError>(())
            })
            .await;

        assert!(
            matches!(&outcome, Err(StorageError::Batch(m)) if m.contains("ended the batch's transaction")),
            "{outcome:?}"
        );
        insert(&db, 2).await.unwrap();
        assert_eq!(values(&db), [1, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_timed_out_never_runs_and_one_already_running_hears_the_truth() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |s| {
            s.write_timeout = HumanDuration(Duration::from_millis(200))
        });
        let held = hold_writer(&db, 1).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let late = db
            .write({
                let ran = ran.clone();
                move |c| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    c.execute("INSERT INTO t VALUES (2)", &[])?;
                    Ok::<_, StorageError>(())
                }
            })
            .await;
        assert!(
            matches!(late, Err(StorageError::WriteTimeout(_))),
            "{late:?}"
        );
        // Past its own deadline too, the held write is answered as it ended.
        tokio::time::sleep(Duration::from_millis(100)).await;
        held.release.send(()).unwrap();
        assert!(held.done.await.unwrap().is_ok());

        insert(&db, 3).await.unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "the timed-out write never ran"
        );
        assert_eq!(values(&db), [1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_timeouts_and_runs_none_of_those_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |s| {
            s.write_timeout = HumanDuration(Duration::from_millis(300))
        });
        let held = hold_writer(&db, 1).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let writes: Vec<_> = (0..QUEUE_BOUND as i64 + 16)
            .map(|i| {
                let (db, ran) = (db.clone(), ran.clone());
                tokio::spawn(async move {
                    db.write(move |c| {
                        ran.fetch_add(1, Ordering::SeqCst);
                        c.execute("INSERT INTO t VALUES (?1)", &[&(100 + i)])?;
                        Ok::<_, StorageError>(())
                    })
                    .await
                })
            })
            .collect();
        for write in writes {
            let outcome = write.await.unwrap();
            assert!(
                matches!(outcome, Err(StorageError::WriteTimeout(_))),
                "{outcome:?}"
            );
        }
        held.release.send(()).unwrap();
        assert!(held.done.await.unwrap().is_ok());

        insert(&db, 2).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(values(&db), [1, 2]);
        assert_eq!(db.pool_stats().writer_waiting, 0);
    }

    #[test]
    fn a_read_connection_refuses_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir, |_| {});
        let attempt = db.read_blocking(|c| c.execute("INSERT INTO t VALUES (1)", &[]));
        match attempt {
            Err(StorageError::Sqlite(error)) => assert_eq!(
                error.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ReadOnly),
                "{error}"
            ),
            other => panic!("a read connection wrote: {other:?}"),
        }
        assert_eq!(values(&db), Vec::<i64>::new());
    }
}
