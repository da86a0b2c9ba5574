//! Limits on events per account and per client address within a sliding
//! window: failed sign-ins (only failures count, so a person who signs in
//! correctly is never slowed) and account messages. The account key is the
//! typed email whether or not an account exists.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct WindowLimiter {
    window: Duration,
    max_per_account: usize,
    max_per_address: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Past this many tracked keys, keys with no failure inside the window are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl WindowLimiter {
    pub fn new(window: Duration, max_per_account: usize, max_per_address: usize) -> Self {
        Self {
            window,
            max_per_account,
            max_per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(wait)` when either key has used up its events in the window.
    pub fn blocked(&self, account: &str, address: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let account_wait = self.wait(
            &mut failures,
            &account_key(account),
            self.max_per_account,
            now,
        );
        let address_wait = self.wait(
            &mut failures,
            &address_key(address),
            self.max_per_address,
            now,
        );
        account_wait.max(address_wait)
    }

    pub fn record(&self, account: &str, address: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > PRUNE_ABOVE {
            let window = self.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for key in [account_key(account), address_key(address)] {
            failures.entry(key).or_default().push_back(now);
        }
    }

    fn wait(
        &self,
        failures: &mut HashMap<String, VecDeque<Instant>>,
        key: &str,
        max: usize,
        now: Instant,
    ) -> Option<Duration> {
        let times = failures.get_mut(key)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() < max {
            return None;
        }
        let oldest = *times.front()?;
        Some(self.window.saturating_sub(now.duration_since(oldest)))
    }
}

fn account_key(account: &str) -> String {
    format!("account:{}", account.trim().to_lowercase())
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_an_account_after_its_failures_whatever_the_address() {
        let limiter = WindowLimiter::new(Duration::from_secs(900), 3, 100);
        for i in 0..3 {
            assert!(
                limiter
                    .blocked("Ada@x.test", &format!("10.0.0.{i}"))
                    .is_none()
            );
            limiter.record("ada@x.test", &format!("10.0.0.{i}"));
        }
        let wait = limiter.blocked("ADA@x.test", "10.9.9.9").unwrap();
        assert!(wait <= Duration::from_secs(900) && wait > Duration::from_secs(890));
        assert!(limiter.blocked("bob@x.test", "10.9.9.9").is_none());
    }

    #[test]
    fn blocks_an_address_across_accounts_and_forgets_after_the_window() {
        let limiter = WindowLimiter::new(Duration::from_millis(50), 100, 2);
        limiter.record("a@x.test", "1.2.3.4");
        limiter.record("b@x.test", "1.2.3.4");
        assert!(limiter.blocked("c@x.test", "1.2.3.4").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.blocked("c@x.test", "1.2.3.4").is_none());
    }
}
