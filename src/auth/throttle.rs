//! Limits on events per key within a sliding window (failed sign-ins,
//! sign-ups, account messages), with memory bounded whatever the traffic,
//! and the sign-in policy built from them: a hard block only per (account,
//! client) pair, a slow-down per account, a hard block per client address
//! against spraying, and never a refusal for a browser that signed in to
//! the account before.

use crate::domain::{Email, Millis};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Events of one kind, per key, within `window`. At most `max_keys` keys
/// are tracked: past that, keys with nothing left in the window go first,
/// then the half whose latest event is oldest (an attacker flooding new
/// keys forgets their own old ones first).
pub struct KeyedLimiter {
    window: Duration,
    max: usize,
    max_keys: usize,
    events: Mutex<HashMap<String, VecDeque<Millis>>>,
}

impl KeyedLimiter {
    pub fn new(window: Duration, max: usize, max_keys: usize) -> Self {
        Self {
            window,
            max,
            max_keys: max_keys.max(2),
            events: Mutex::new(HashMap::new()),
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Events of `key` still inside the window.
    pub fn count(&self, key: &str, now: Millis) -> usize {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        self.current(&mut events, key, now)
            .map_or(0, |times| times.len())
    }

    /// `Some(wait)` when `key` has used up its events: how long until the
    /// oldest one leaves the window.
    pub fn blocked(&self, key: &str, now: Millis) -> Option<Duration> {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let times = self.current(&mut events, key, now)?;
        if times.len() < self.max {
            return None;
        }
        let oldest = *times.front()?;
        let left = (oldest.0 + self.window_ms() - now.0).max(1);
        Some(Duration::from_millis(u64::try_from(left).unwrap_or(1)))
    }

    pub fn record(&self, key: &str, now: Millis) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if !events.contains_key(key) && events.len() >= self.max_keys {
            self.make_room(&mut events, now);
        }
        let times = events.entry(key.to_owned()).or_default();
        times.push_back(now);
        // Only the newest `max` events ever decide anything.
        while times.len() > self.max.max(1) {
            times.pop_front();
        }
    }

    /// Keys tracked right now (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn current<'a>(
        &self,
        events: &'a mut HashMap<String, VecDeque<Millis>>,
        key: &str,
        now: Millis,
    ) -> Option<&'a mut VecDeque<Millis>> {
        let window = self.window_ms();
        let times = events.get_mut(key)?;
        while times.front().is_some_and(|t| now.0 - t.0 >= window) {
            times.pop_front();
        }
        Some(times)
    }

    fn make_room(&self, events: &mut HashMap<String, VecDeque<Millis>>, now: Millis) {
        let window = self.window_ms();
        events.retain(|_, times| times.back().is_some_and(|t| now.0 - t.0 < window));
        if events.len() < self.max_keys {
            return;
        }
        let mut latest: Vec<(Millis, String)> = events
            .iter()
            .filter_map(|(key, times)| times.back().map(|t| (*t, key.clone())))
            .collect();
        latest.sort_unstable();
        for (_, key) in latest.into_iter().take(self.max_keys / 2) {
            events.remove(&key);
        }
    }
}

/// Settings of the sign-in policy.
#[derive(Debug, Clone, Copy)]
pub struct SignInPolicy {
    pub window: Duration,
    /// Failures of one account from one client (address, or remembered
    /// browser) before that pair is refused.
    pub per_account_and_client: usize,
    /// Failures of one account, from anywhere, before every further attempt
    /// on it is slowed down (doubling from one second up to `slowdown_max`).
    pub per_account_before_slowdown: usize,
    pub slowdown_max: Duration,
    /// Failures from one client address, across accounts, before it is refused.
    pub per_address: usize,
    pub max_keys: usize,
}

/// What to do with a sign-in attempt before checking its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Answer only after this long.
    SlowDown(Duration),
    /// Refuse (429) for this long.
    Refuse(Duration),
}

pub struct SignInThrottle {
    policy: SignInPolicy,
    pairs: KeyedLimiter,
    accounts: KeyedLimiter,
    addresses: KeyedLimiter,
}

impl SignInThrottle {
    pub fn new(policy: SignInPolicy) -> Self {
        Self {
            pairs: KeyedLimiter::new(
                policy.window,
                policy.per_account_and_client,
                policy.max_keys,
            ),
            // The slow-down grows with failures past the threshold: keep enough of them.
            accounts: KeyedLimiter::new(
                policy.window,
                policy.per_account_before_slowdown + 32,
                policy.max_keys,
            ),
            addresses: KeyedLimiter::new(policy.window, policy.per_address, policy.max_keys),
            policy,
        }
    }

    /// `device`: the id of a browser that signed in to this account before
    /// (a valid device cookie). Such a browser is its own client (its
    /// failures count apart from its address's) and is never slowed down.
    pub fn verdict(
        &self,
        account: &Email,
        address: &str,
        device: Option<&str>,
        now: Millis,
    ) -> Verdict {
        let account = account_key(account);
        let client = client_key(&account, address, device);
        if let Some(wait) = self.pairs.blocked(&client, now) {
            return Verdict::Refuse(wait);
        }
        if device.is_some() {
            return Verdict::Go;
        }
        if let Some(wait) = self.addresses.blocked(&address_key(address), now) {
            return Verdict::Refuse(wait);
        }
        let failures = self.accounts.count(&account, now);
        match failures.checked_sub(self.policy.per_account_before_slowdown) {
            None => Verdict::Go,
            Some(past) => {
                let doubled = Duration::from_secs(1).saturating_mul(1 << past.min(20));
                Verdict::SlowDown(doubled.min(self.policy.slowdown_max))
            }
        }
    }

    pub fn record_failure(
        &self,
        account: &Email,
        address: &str,
        device: Option<&str>,
        now: Millis,
    ) {
        let account = account_key(account);
        self.pairs
            .record(&client_key(&account, address, device), now);
        self.accounts.record(&account, now);
        if device.is_none() {
            self.addresses.record(&address_key(address), now);
        }
    }
}

/// The key the account lookup uses ([`Email::key`]), whether or not an
/// account exists: every spelling that would find the account (case,
/// fullwidth or other IDNA-mapped forms of the domain) counts against it.
fn account_key(account: &Email) -> String {
    format!("account:{}", account.key())
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

fn client_key(account: &str, address: &str, device: Option<&str>) -> String {
    match device {
        Some(device) => format!("{account}|device:{device}"),
        None => format!("{account}|address:{address}"),
    }
}

/// Admin requests per bucket (an API key that authenticated, or a client
/// address for keys that did not), in fixed one-minute windows.
pub const WINDOW_MS: i64 = 60_000;
/// Past this many buckets counted in one window, older windows' entries are dropped.
const MAX_TRACKED: usize = 100_000;

/// Counts per bucket in the current window.
#[derive(Default)]
pub struct AdminRateLimiter {
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

/// The outcome of one request: the quota left and when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub remaining: u32,
    /// Seconds until the window resets, at least 1.
    pub reset_secs: i64,
}

impl AdminRateLimiter {
    /// Counts a request about to run, unless `key` has used its `limit`.
    pub fn check(&self, key: &str, limit: u32, now: Millis) -> Decision {
        self.count(key, limit, now, false)
    }

    /// Counts a request that already ran, whose bucket became known only
    /// once it had (the key authenticated, or was refused): past the limit
    /// too, so the bucket's next request is refused.
    pub fn charge(&self, key: &str, limit: u32, now: Millis) -> Decision {
        self.count(key, limit, now, true)
    }

    /// Takes back a request counted at `at` that belongs to another bucket.
    pub fn refund(&self, key: &str, at: Millis) {
        let window = at.0.div_euclid(WINDOW_MS);
        if let Some(entry) = self.lock().get_mut(key)
            && entry.0 == window
        {
            entry.1 = entry.1.saturating_sub(1);
        }
    }

    fn count(&self, key: &str, limit: u32, now: Millis, always: bool) -> Decision {
        let window = now.0.div_euclid(WINDOW_MS);
        let reset_secs = ((window + 1) * WINDOW_MS - now.0 + 999) / 1000;
        let mut counts = self.lock();
        if counts.len() >= MAX_TRACKED && !counts.contains_key(key) {
            counts.retain(|_, (w, _)| *w == window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let allowed = always || entry.1 < limit;
        if allowed {
            entry.1 = entry.1.saturating_add(1);
        }
        Decision {
            allowed,
            remaining: limit.saturating_sub(entry.1),
            reset_secs: reset_secs.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, u32)>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn rejected_keys_are_known_by_their_whole_text_and_stay_bounded() {
        let rejected = RejectedKeys::default();
        rejected.insert("enl_AAAAAAAAAAAA_secret");
        assert!(rejected.contains("enl_AAAAAAAAAAAA_secret"));
        assert!(!rejected.contains("enl_AAAAAAAAAAAA_secreT"));
        rejected.remove("enl_AAAAAAAAAAAA_secret");
        assert!(!rejected.contains("enl_AAAAAAAAAAAA_secret"));
        for n in 0..KEY_DIGESTS_CAPACITY + 10 {
            rejected.insert(&format!("key {n}"));
        }
        assert!(rejected.lock().len() <= KEY_DIGESTS_CAPACITY);
    }

    use super::*;

    const MINUTE: i64 = 60_000;

    fn email(text: &str) -> Email {
        Email::parse(text).unwrap()
    }

    fn policy() -> SignInPolicy {
        SignInPolicy {
            window: Duration::from_secs(900),
            per_account_and_client: 3,
            per_account_before_slowdown: 3,
            slowdown_max: Duration::from_secs(8),
            per_address: 100,
            max_keys: 1000,
        }
    }

    #[test]
    fn a_pair_is_refused_the_account_only_slowed_and_a_known_browser_passes() {
        let throttle = SignInThrottle::new(policy());
        let now = Millis(1_000_000);
        for _ in 0..3 {
            assert_eq!(
                throttle.verdict(&email("Ada@x.test"), "10.0.0.1", None, now),
                Verdict::Go
            );
            throttle.record_failure(&email("ada@x.test"), "10.0.0.1", None, now);
        }
        let Verdict::Refuse(wait) = throttle.verdict(&email("ADA@x.test"), "10.0.0.1", None, now)
        else {
            panic!("the attacking pair is refused");
        };
        assert!(wait <= Duration::from_secs(900) && wait > Duration::from_secs(890));
        // Anyone else trying the account is slowed, more with every failure.
        assert_eq!(
            throttle.verdict(&email("ada@x.test"), "10.9.9.9", None, now),
            Verdict::SlowDown(Duration::from_secs(1))
        );
        throttle.record_failure(&email("ada@x.test"), "10.9.9.8", None, now);
        assert_eq!(
            throttle.verdict(&email("ada@x.test"), "10.9.9.9", None, now),
            Verdict::SlowDown(Duration::from_secs(2))
        );
        for _ in 0..10 {
            throttle.record_failure(&email("ada@x.test"), "10.9.9.7", None, now);
        }
        assert_eq!(
            throttle.verdict(&email("ada@x.test"), "10.9.9.9", None, now),
            Verdict::SlowDown(Duration::from_secs(8)),
            "capped"
        );
        // The browser Ada signed in from before goes straight through, even
        // from the attacker's address.
        assert_eq!(
            throttle.verdict(&email("ada@x.test"), "10.0.0.1", Some("d1"), now),
            Verdict::Go
        );
        // Other accounts are untouched; time heals.
        assert_eq!(
            throttle.verdict(&email("bob@x.test"), "10.0.0.1", None, now),
            Verdict::Go
        );
        let later = Millis(now.0 + 15 * MINUTE);
        assert_eq!(
            throttle.verdict(&email("ada@x.test"), "10.0.0.1", None, later),
            Verdict::Go
        );
    }

    #[test]
    fn every_spelling_the_account_lookup_resolves_counts_against_one_account() {
        let throttle = SignInThrottle::new(policy());
        let now = Millis(0);
        // Case, and fullwidth letters in the domain, which IDNA maps to ASCII.
        for spelling in ["ada@acme.test", "ADA@Acme.Test", "ada@\u{FF41}cme.test"] {
            throttle.record_failure(&email(spelling), "10.0.0.1", None, now);
        }
        assert!(matches!(
            throttle.verdict(&email("Ada@ACME.\u{FF54}est"), "10.0.0.1", None, now),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn an_address_spraying_many_accounts_is_refused() {
        let throttle = SignInThrottle::new(SignInPolicy {
            per_address: 3,
            ..policy()
        });
        let now = Millis(0);
        for account in ["a@x.test", "b@x.test", "c@x.test"] {
            throttle.record_failure(&email(account), "1.2.3.4", None, now);
        }
        assert!(matches!(
            throttle.verdict(&email("d@x.test"), "1.2.3.4", None, now),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            throttle.verdict(&email("d@x.test"), "1.2.3.5", None, now),
            Verdict::Go
        );
    }

    #[test]
    fn tracked_keys_stay_bounded_under_a_flood_of_new_keys() {
        let limiter = KeyedLimiter::new(Duration::from_secs(900), 5, 100);
        limiter.record("victim", Millis(0));
        for i in 0..10_000 {
            limiter.record(&format!("flood-{i}"), Millis(1 + i));
            assert!(limiter.tracked_keys() <= 100);
        }
        // The oldest keys made room first.
        assert_eq!(limiter.count("victim", Millis(20_000)), 0);
        assert_eq!(limiter.count("flood-9999", Millis(20_000)), 1);
    }

    #[test]
    fn a_key_is_blocked_after_its_events_and_forgets_after_the_window() {
        let limiter = KeyedLimiter::new(Duration::from_millis(50), 2, 100);
        limiter.record("k", Millis(0));
        limiter.record("k", Millis(10));
        assert_eq!(
            limiter.blocked("k", Millis(20)),
            Some(Duration::from_millis(30))
        );
        assert_eq!(limiter.blocked("k", Millis(60)), None);
    }
}

/// Presented API keys, by the SHA-256 of the whole presented text (secret
/// included, so only the key's holder can match an entry). Bounded: past
/// [`KEY_DIGESTS_CAPACITY`] the memory is emptied and refills.
#[derive(Default)]
pub struct KeyDigests {
    digests: Mutex<HashSet<[u8; 32]>>,
}

/// API keys found invalid, so a client that keeps sending one is answered
/// 401 without a database read. Being invalid is permanent: a key's secret
/// is random and never reissued, and a revoked key (also one revoked when
/// its owner was removed or demoted) stays revoked.
pub type RejectedKeys = KeyDigests;

/// API keys that authenticated: the admin rate limit counts their requests
/// against the key from the start. Any other key's request is counted
/// against the client address until the key authenticates, so a key with a
/// real public id and a wrong secret cannot use up its owner's quota.
pub type AuthenticatedKeys = KeyDigests;

pub const KEY_DIGESTS_CAPACITY: usize = 4096;

impl KeyDigests {
    pub fn contains(&self, presented: &str) -> bool {
        self.lock()
            .contains(&crate::auth::secrets::sha256(presented))
    }

    pub fn insert(&self, presented: &str) {
        let digest = crate::auth::secrets::sha256(presented);
        let mut digests = self.lock();
        if digests.len() >= KEY_DIGESTS_CAPACITY {
            digests.clear();
        }
        digests.insert(digest);
    }

    pub fn remove(&self, presented: &str) {
        self.lock().remove(&crate::auth::secrets::sha256(presented));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.digests.lock().unwrap_or_else(|e| e.into_inner())
    }
}
