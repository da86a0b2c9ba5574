//! Password hashing with argon2id (the argon2 crate's recommended
//! parameters). Hashing is slow by design: callers run it off the async
//! executor and outside any write transaction.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

pub const MIN_PASSWORD_LEN: usize = 8;
/// Longer inputs only cost hashing time; nobody types more.
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_LEN} characters long")]
    TooLong,
    #[error("hashing failed: {0}")]
    Hashing(argon2::password_hash::Error),
}

pub fn validate(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        Err(PasswordError::TooShort)
    } else if chars > MAX_PASSWORD_LEN {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

/// An argon2id PHC string for `password`, after checking its length.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    validate(password)?;
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hashing)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hashing)
}

/// Whether `password` matches the stored PHC string. A malformed stored
/// hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horsE", &a));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn length_rules() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        assert!(matches!(
            validate(&"x".repeat(1025)),
            Err(PasswordError::TooLong)
        ));
        assert!(validate("eight ch").is_ok());
    }
}

/// A small dedicated pool of threads for argon2, so a flood of sign-ins
/// queues here instead of occupying the threads that serve database work.
pub struct PasswordPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// Hashes and checks run so far (the dummy one included).
    operations: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("too many password checks are waiting")]
    Busy,
    #[error("the password pool has stopped")]
    Stopped,
}

/// A verification against this hash takes as long as a real one, so an
/// unknown account cannot be told apart by timing.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash("no account has this password").unwrap_or_default());

impl PasswordPool {
    /// `threads` workers; at most `queue` jobs wait before callers get [`PoolError::Busy`].
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        // Computed on a pool thread right away, rather than on the first
        // unknown-account sign-in, and without delaying start-up.
        // A full queue only means the first unknown-account sign-in pays for it.
        if jobs
            .try_send(Box::new(|| {
                std::sync::LazyLock::force(&DUMMY_HASH);
            }))
            .is_err()
        {
            tracing::debug!("dummy hash left for the first unknown-account sign-in");
        }
        Ok(Self {
            jobs,
            operations: std::sync::Arc::default(),
        })
    }

    /// How many hashes and checks have run: the argon2 work answers cost.
    pub fn operations(&self) -> u64 {
        self.operations.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let operations = self.operations.clone();
        let job: Job = Box::new(move || {
            let outcome = work();
            operations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Fails only when the caller stopped waiting; nothing is owed then.
            reply.send(outcome).ok();
        });
        self.jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => PoolError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => PoolError::Stopped,
        })?;
        answer.await.map_err(|_| PoolError::Stopped)
    }

    pub async fn hash(&self, password: String) -> Result<Result<String, PasswordError>, PoolError> {
        self.run(move || hash(&password)).await
    }

    /// Checks `password` against `stored`, or against a dummy hash when
    /// there is no account or no password, taking the same time either way.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, PoolError> {
        self.run(move || match stored {
            Some(stored) => verify(&password, &stored),
            None => {
                verify(&password, &DUMMY_HASH);
                false
            }
        })
        .await
    }
}
